"""Published cells as named data, so a search can be compared with them and their numbers checked.

Indices follow DARTS (0: h_{i-2}, 1: h_{i-1}). NASNet-A is transcribed from the TF reference
(`research/slim/nets/nasnet/nasnet_utils.py`, whose state 0 is h_{i-1}: we swap 0 and 1), including
which states its cells concatenate: the normal cell also concatenates h_{i-2} (6 states, which is
what makes 4 @ 1056 mean C = 44), the reduction cell blocks 1-4. DARTS' own NASNet transcription
drops those; we follow the reference. AmoebaNet-A, DARTS-V2, ENAS and PNAS are as in DARTS'
`cnn/genotypes.py` and the collections that extend it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nas.errors import GenotypeError
from nas.space.genotype import Block, Cell, Genotype

_Pairs = list[tuple[str, int]]


def _cell(pairs: _Pairs, outputs: list[int]) -> Cell:
    """A cell from DARTS' flat (op, input) list, two entries per block, all combined by add."""
    blocks = tuple(
        Block(input_a=a_in, input_b=b_in, op_a=a_op, op_b=b_op)
        for (a_op, a_in), (b_op, b_in) in zip(pairs[::2], pairs[1::2], strict=True)
    )
    return Cell(blocks=blocks, outputs=tuple(outputs))


def _genotype(
    name: str, normal: _Pairs, normal_out: list[int], reduce: _Pairs, reduce_out: list[int]
) -> Genotype:
    return Genotype(normal=_cell(normal, normal_out), reduce=_cell(reduce, reduce_out), name=name)


_NASNET_A_NORMAL: _Pairs = [
    ("sep_conv_5x5", 1), ("sep_conv_3x3", 0),
    ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
    ("avg_pool_3x3", 1), ("skip_connect", 0),
    ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
    ("sep_conv_3x3", 1), ("skip_connect", 1),
]  # fmt: skip
_NASNET_A_REDUCE: _Pairs = [
    ("sep_conv_5x5", 1), ("sep_conv_7x7", 0),
    ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
    ("avg_pool_3x3", 1), ("sep_conv_5x5", 0),
    ("skip_connect", 3), ("avg_pool_3x3", 2),
    ("sep_conv_3x3", 2), ("max_pool_3x3", 1),
]  # fmt: skip
_AMOEBA_NORMAL: _Pairs = [
    ("avg_pool_3x3", 0), ("max_pool_3x3", 1),
    ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
    ("sep_conv_3x3", 0), ("avg_pool_3x3", 3),
    ("sep_conv_3x3", 1), ("skip_connect", 1),
    ("skip_connect", 0), ("avg_pool_3x3", 1),
]  # fmt: skip
_AMOEBA_REDUCE: _Pairs = [
    ("avg_pool_3x3", 0), ("sep_conv_3x3", 1),
    ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
    ("sep_conv_7x7", 0), ("avg_pool_3x3", 1),
    ("max_pool_3x3", 0), ("max_pool_3x3", 1),
    ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5),
]  # fmt: skip
_DARTS_V2_NORMAL: _Pairs = [
    ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 1), ("skip_connect", 0),
    ("skip_connect", 0), ("dil_conv_3x3", 2),
]  # fmt: skip
_DARTS_V2_REDUCE: _Pairs = [
    ("max_pool_3x3", 0), ("max_pool_3x3", 1),
    ("skip_connect", 2), ("max_pool_3x3", 1),
    ("max_pool_3x3", 0), ("skip_connect", 2),
    ("skip_connect", 2), ("max_pool_3x3", 1),
]  # fmt: skip
_ENAS_NORMAL: _Pairs = [
    ("sep_conv_3x3", 1), ("skip_connect", 1),
    ("sep_conv_5x5", 1), ("skip_connect", 0),
    ("avg_pool_3x3", 0), ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0), ("avg_pool_3x3", 1),
    ("sep_conv_5x5", 1), ("avg_pool_3x3", 0),
]  # fmt: skip
_ENAS_REDUCE: _Pairs = [
    ("sep_conv_5x5", 0), ("avg_pool_3x3", 1),
    ("sep_conv_3x3", 1), ("avg_pool_3x3", 1),
    ("sep_conv_3x3", 1), ("avg_pool_3x3", 1),
    ("sep_conv_5x5", 4), ("avg_pool_3x3", 1),
    ("sep_conv_3x3", 5), ("sep_conv_5x5", 0),
]  # fmt: skip
_PNAS_CELL: _Pairs = [
    ("sep_conv_5x5", 0), ("max_pool_3x3", 0),
    ("sep_conv_7x7", 1), ("max_pool_3x3", 1),
    ("sep_conv_5x5", 1), ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 4), ("max_pool_3x3", 1),
    ("sep_conv_3x3", 0), ("skip_connect", 1),
]  # fmt: skip

PUBLISHED: dict[str, Genotype] = {
    g.name: g  # type: ignore[misc]
    for g in (
        _genotype("nasnet-a", _NASNET_A_NORMAL, [0, 2, 3, 4, 5, 6], _NASNET_A_REDUCE, [3, 4, 5, 6]),
        _genotype("amoebanet-a", _AMOEBA_NORMAL, [4, 5, 6], _AMOEBA_REDUCE, [3, 4, 6]),
        _genotype("darts-v2", _DARTS_V2_NORMAL, [2, 3, 4, 5], _DARTS_V2_REDUCE, [2, 3, 4, 5]),
        _genotype("enas", _ENAS_NORMAL, [2, 3, 4, 5, 6], _ENAS_REDUCE, [2, 3, 6]),
        _genotype("pnas", _PNAS_CELL, [2, 3, 4, 5, 6], _PNAS_CELL, [2, 3, 4, 5, 6]),
    )
}


def resolve_genotype(arg: str) -> Genotype:
    """A published cell by name (``nasnet-a``, ...), a genotype JSON file, or a search's run folder
    (its ``best_genotype.json``).

    A genotype saved without a name is named after where it came from, so every command shows and
    files it under a name: ``<run>-best`` for a run's best genotype, else the file's stem.
    """
    if arg.lower() in PUBLISHED:
        return PUBLISHED[arg.lower()]
    path = Path(arg)
    if path.is_dir():
        if not (path / "best_genotype.json").is_file():
            raise GenotypeError(
                f"{arg}: a folder without best_genotype.json (no search run, or no child completed)"
            )
        path = path / "best_genotype.json"
    if not path.exists():
        raise GenotypeError(
            f"{arg!r} is neither a genotype file nor a published cell ({', '.join(PUBLISHED)})"
        )
    genotype = Genotype.load(path)
    if genotype.name is None:
        name = f"{path.resolve().parent.name}-best" if path.name == "best_genotype.json" else path.stem
        genotype = dataclasses.replace(genotype, name=name)
    return genotype
