"""NASNet-style neural architecture search: space, searchers, training, scheduling, transfer.

The core (`nas.genotype`, `nas.ops`, `nas.cell`, `nas.network`) imports only torch; the
integrations (Ray, Optuna, W&B) are imported by their adapter modules alone.
"""

from __future__ import annotations

__version__ = "0.1.0"
