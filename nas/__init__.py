"""NASNet-style neural architecture search: space, searchers, training, scheduling, transfer.

The core (`nas.space.genotype`, `nas.ops.primitives`, `nas.model.cell`, `nas.model.network`) imports only torch; the
integrations (Ray, Optuna, W&B) are imported by their adapter modules alone.
"""

from __future__ import annotations

__version__ = "0.1.0"
