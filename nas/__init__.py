"""NASNet-style neural architecture search: space, searchers, training, scheduling, transfer.

The core (`nas.space.genotype`, `nas.ops.primitives`, `nas.model.cell`, `nas.model.network`) imports only torch; the
integrations (Ray, Optuna, W&B) are imported by their adapter modules alone.

The public Python entry points (`nas.api`) are re-exported here and imported on first use, so
``import nas`` itself stays light (no torch): ``nas.load_genotype``, ``nas.build_network``,
``nas.load_checkpoint``, ``nas.export``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas.api import NORMALIZATION, build_network, export, load_checkpoint, load_genotype

__version__ = "0.1.0"
__all__ = ["NORMALIZATION", "build_network", "export", "load_checkpoint", "load_genotype"]


def __getattr__(name: str) -> Any:
    """PEP 562: ``nas.<entry point>`` imports `nas.api` (and torch) the first time it is asked for."""
    if name in __all__:
        return getattr(importlib.import_module("nas.api"), name)
    raise AttributeError(f"module 'nas' has no attribute {name!r}")
