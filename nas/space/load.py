"""Any genotype from a file, JSON text or an arch string: NASNet or NAS-Bench-201, told by content.

The two spaces' JSON differ in shape: a NASNet genotype has ``normal`` and ``reduce`` cells
(`nas.space.genotype`), a NAS-Bench-201 one ``space: "nas-bench-201"`` and an ``arch`` string
(`nas.space.nb201`). A bare arch string (``|nor_conv_3x3~0|+|...|``) is accepted too, as an argument
or as a file's whole content, since that is how the benchmark and its papers name cells.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nas.errors import GenotypeError
from nas.space.genotype import Genotype, read_genotype_file
from nas.space.nb201 import Nb201Genotype, is_nb201_data, looks_like_arch

AnyGenotype = Genotype | Nb201Genotype
"""A genotype of either space."""


def genotype_from_data(data: Any) -> AnyGenotype:
    """Parsed genotype JSON of either space, validated."""
    if is_nb201_data(data):
        return Nb201Genotype.from_dict(data)
    return Genotype.from_dict(data)


def genotype_from_text(text: str) -> AnyGenotype:
    """Genotype JSON of either space, or a bare arch string."""
    if looks_like_arch(text):
        return Nb201Genotype.from_arch(text)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise GenotypeError(f"genotype is not valid JSON: {exc}") from None
    return genotype_from_data(data)


def load_genotype(path_or_text: str | Path) -> AnyGenotype:
    """An arch string given as such, or the genotype in the file ``path_or_text`` (JSON or an arch
    string); errors from a file name the file."""
    if isinstance(path_or_text, str) and looks_like_arch(path_or_text):
        return Nb201Genotype.from_arch(path_or_text)
    return read_genotype_file(path_or_text, genotype_from_text)


def decision_tokens(data: Any) -> tuple[str, ...]:
    """A genotype's decisions as ``"where=what"`` tokens, one per decision of its space (an edge's op
    in NAS-Bench-201; a block's inputs, ops and combine in the NASNet space): the one-hot features a
    model over cells is fitted on (`nas.results.shrinkage`), read from the genotype's JSON data."""
    genotype = genotype_from_data(data)
    if isinstance(genotype, Nb201Genotype):
        return tuple(f"edge {k}={op}" for k, op in enumerate(genotype.ops))
    return tuple(
        f"{name} block {k} {field}={value}"
        for name, cell in genotype.cells()
        for k, block in enumerate(cell.blocks)
        for field, value in block.to_dict().items()
    )
