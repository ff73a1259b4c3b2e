"""A trained network as one file: its weights, and the genotype and config that rebuild it.

A bare ``state_dict`` can only be loaded by code that already knows which cells, N and C made it;
handed to anyone else it is a list of tensors. `network_state` adds what rebuilds the module, as JSON
text inside the file (``genotype``, ``network``), so the file stays loadable with
``torch.load(weights_only=True)``: strings, numbers and tensors only, never a pickled object.
`nas train`'s ``model.pt`` and `nas transfer`'s ``state.pt`` are such files (the latter with the
optimizer's state beside ``model``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nas.errors import DataError, first_line
from nas.model.build import AnyNetwork, build_any_network
from nas.model.network import NetworkConfig
from nas.space.load import AnyGenotype, genotype_from_text
from nas.space.protocol import GenotypeLike

FORMAT = "nas-network/1"
"""The ``format`` entry of a self-describing checkpoint; a bump means a reader must convert."""


@dataclass(frozen=True)
class SavedNetwork:
    """What a checkpoint holds: the weights, and the genotype and config when the file records them."""

    state_dict: dict[str, torch.Tensor]
    genotype: AnyGenotype | None
    config: NetworkConfig | None

    def build(self, *, auxiliary: bool | None = None) -> AnyNetwork:
        """The network with these weights, in eval mode. ``auxiliary=False`` leaves out the auxiliary
        head (used only in training, Szegedy et al. 2015) and its weights."""
        if self.genotype is None or self.config is None:
            raise DataError("the checkpoint does not record its genotype and network config")
        config = self.config
        state = self.state_dict
        if auxiliary is not None and auxiliary != config.auxiliary:
            config = NetworkConfig(**{**config.to_dict(), "auxiliary": auxiliary})
            state = {k: v for k, v in state.items() if not k.startswith("aux_head.")}
        model = build_any_network(self.genotype, config)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:  # shapes or names that do not match what the metadata builds
            raise DataError(f"the weights do not fit the recorded network: {first_line(exc)}") from None
        return model.eval()


def network_state(model: AnyNetwork, genotype: GenotypeLike) -> dict[str, Any]:
    """``model``'s weights (on the CPU) with the genotype and config that rebuild it, for `torch.save`."""
    return {
        "format": FORMAT,
        "genotype": genotype.to_json(indent=None),
        "network": json.dumps(model.config.to_dict()),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def read_network_state(path: Path) -> SavedNetwork:
    """The weights, genotype and config in ``path``; loaded with ``weights_only=True``.

    Also reads a bare ``state_dict`` (what `nas train` saved before this format), whose genotype and
    config are then ``None``: the caller finds them elsewhere (`nas.api.load_checkpoint`).
    """
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # unpickling refuses with many types; any of them means unusable
        raise DataError(f"{path}: not a loadable checkpoint ({first_line(exc, limit=200)})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: not a checkpoint (a {type(raw).__name__}, not a dict of weights)")
    if "format" not in raw:  # written before this format: a bare state_dict, or a transfer's state
        weights = raw.get("model", raw)
        if _is_state_dict(weights):
            return SavedNetwork(weights, None, None)
        raise DataError(f"{path}: not a checkpoint of this package (no weights, no 'format' entry)")
    if raw["format"] != FORMAT:
        raise DataError(f"{path}: checkpoint format {raw['format']!r}; this version reads {FORMAT!r}")
    try:
        genotype = genotype_from_text(raw["genotype"])
        config = NetworkConfig(**json.loads(raw["network"]))
        state = raw["model"]
        if not _is_state_dict(state):
            raise TypeError("'model' is not a dict of tensors")
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: damaged checkpoint metadata ({first_line(exc, limit=200)})") from None
    return SavedNetwork(state, genotype, config)


def _is_state_dict(value: object) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )
