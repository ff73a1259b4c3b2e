"""Published cells and the networks their papers built from them, as named data.

Each cell is transcribed from its authors' own code; the source and every deliberate deviation sit in
a comment beside the data, and ``tests/space/test_published.py`` checks the wiring against the authors'
encodings. Indices follow DARTS: 0 is h_{i-2}, 1 is h_{i-1}, 2.. the blocks. The TF references
(NASNet, AmoebaNet, PNASNet) number the other way round (their state 0 is h_{i-1}, appended first by
``_cell_base``), so 0 and 1 are swapped on transcription; a TF cell concatenates every state its
``used_hiddenstates`` marks 0, the cell inputs included.

Deviations shared by the TF-derived cells, none of which changes a count by more than 0.1%: TF's
``none`` at stride 2 is a ReLU-1x1/2-BN, ours a factorized reduce (same params and mult-adds); TF's
first ImageNet stem cell feeds the raw stem conv to its h_{i-2} ops, we project it to C first.

Beside each cell sits its paper's macro structure (`Macro`): the stem, how stage cell counts relate to
N, what the paper's F means, and the networks the paper reports (`PaperNetwork`), which
``nas show <cell> --preset ...`` builds and ``tests/space/test_published.py`` checks against the paper.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import ConfigError, GenotypeError, shown
from nas.space.genotype import Block, Cell, Genotype
from nas.space.load import AnyGenotype, load_genotype
from nas.space.nb201 import Nb201Genotype, looks_like_arch

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


# NASNet-A: TF slim `research/slim/nets/nasnet/nasnet_utils.py`, NasNetANormalCell /
# NasNetAReductionCell. The normal cell concatenates h_{i-2} too (TF used_hiddenstates [1,0,0,0,0,0,0]);
# DARTS' transcription (`cnn/genotypes.py`, NASNet) drops it, we follow TF.
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
# AmoebaNet-A: tensorflow/tpu `models/official/amoeba_net/model_specs.py`, ``amoeba_net_a`` (its TF
# indices swapped). DARTS' transcription kept TF's indices unswapped and other concat lists; we follow
# the authors. The normal cell concatenates h_{i-2} (TF used_hiddenstates [1,0,1,0,0,1,0]); TF's
# ``1x7_7x1`` has a C/4 bottleneck, our ``conv_7x1_1x7_bottleneck``.
_AMOEBA_NORMAL: _Pairs = [
    ("avg_pool_3x3", 1), ("max_pool_3x3", 1),
    ("sep_conv_3x3", 0), ("skip_connect", 0),
    ("skip_connect", 1), ("avg_pool_3x3", 0),
    ("sep_conv_3x3", 1), ("sep_conv_5x5", 2),
    ("avg_pool_3x3", 5), ("sep_conv_3x3", 1),
]  # fmt: skip
_AMOEBA_REDUCE: _Pairs = [
    ("sep_conv_3x3", 0), ("avg_pool_3x3", 1),
    ("max_pool_3x3", 1), ("sep_conv_7x7", 2),
    ("max_pool_3x3", 0), ("max_pool_3x3", 1),
    ("sep_conv_3x3", 4), ("conv_7x1_1x7_bottleneck", 1),
    ("avg_pool_3x3", 0), ("sep_conv_7x7", 1),
]  # fmt: skip
# DARTS-V2: quark0/darts `cnn/genotypes.py`, DARTS_V2 (same index convention, taken as is).
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
# ENAS: melodyguan/enas `scripts/cifar10_micro_final.sh`, ``fixed_arc`` (per block: x input, x op,
# y input, y op; ops 0 sep 3x3, 1 sep 5x5, 2 avg pool, 3 max pool, 4 identity, as in
# `src/cifar10/micro_child.py` ``_fixed_layer``, whose layers[0] is h_{i-2} like ours). The output is
# every block no block reads (``_fixed_combine``).
_ENAS_NORMAL: _Pairs = [
    ("avg_pool_3x3", 0), ("sep_conv_3x3", 0),
    ("skip_connect", 0), ("sep_conv_5x5", 0),
    ("skip_connect", 0), ("sep_conv_5x5", 1),
    ("sep_conv_3x3", 1), ("sep_conv_5x5", 0),
    ("avg_pool_3x3", 0), ("sep_conv_5x5", 1),
]  # fmt: skip
_ENAS_REDUCE: _Pairs = [
    ("sep_conv_3x3", 1), ("sep_conv_3x3", 1),
    ("max_pool_3x3", 0), ("avg_pool_3x3", 0),
    ("sep_conv_5x5", 1), ("sep_conv_5x5", 3),
    ("sep_conv_3x3", 1), ("skip_connect", 0),
    ("max_pool_3x3", 0), ("sep_conv_5x5", 1),
]  # fmt: skip
# PNASNet-5: TF slim `research/slim/nets/nasnet/pnasnet.py`, PNasNetNormalCell (indices swapped; TF's
# ``none`` is our skip_connect). One cell serves both roles: with stride 2 it is the reduction cell.
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
        _genotype("amoebanet-a", _AMOEBA_NORMAL, [0, 3, 4, 6], _AMOEBA_REDUCE, [2, 3, 4, 5, 6]),
        _genotype("darts-v2", _DARTS_V2_NORMAL, [2, 3, 4, 5], _DARTS_V2_REDUCE, [2, 3, 4, 5]),
        _genotype("enas", _ENAS_NORMAL, [2, 3, 4, 5, 6], _ENAS_REDUCE, [2, 4, 5, 6]),
        _genotype("pnas", _PNAS_CELL, [2, 3, 4, 5, 6], _PNAS_CELL, [2, 3, 4, 5, 6]),
    )
}

PRESETS = ("cifar", "mobile", "large")
"""The network sizes papers report: CIFAR-10, ImageNet mobile (224 px), ImageNet large."""


@dataclass(frozen=True)
class PaperNetwork:
    """One network a paper reports, in its own notation, with its reported cost."""

    dataset: str
    N: int
    F: int
    image_size: int
    params: float
    mult_adds: float | None = None
    stem_multiplier: int | None = None  # None: the paper layout's default for the dataset
    code_params: float | None = None  # what the authors' released code builds, where not the paper's
    mult_adds_tolerance: float = 0.05
    note: str = ""  # why a figure is not within 5% of the paper's, or which figure is compared


@dataclass(frozen=True)
class Macro:
    """How a paper stacks its cells into a network, read by `nas.model.network` via `NetworkConfig`.

    ``stem``: on ImageNet, ``"nasnet"`` is a 3x3/2 conv of 32 x stem multiplier filters and two
    reduction cells at C/4 and C/2 (TF slim ``_imagenet_stem``); ``"darts"`` is DARTS' three 3x3/2
    convs to C and no stem cell. On CIFAR every paper uses a 3x3 conv of stem multiplier x C.
    ``reductions_in_N``: PNASNet counts the two reduction cells among its ``num_cells`` = 3N, so its
    stages hold N, N-1, N-1 normal cells; the others stack N per stage plus the reductions.
    ``F_means``: ``"penultimate"`` (NASNet: F = filters of the penultimate layer, F = 4 k C) or ``"C"``
    (AmoebaNet, PNASNet: F = ``num_conv_filters``, the first stage's width; DARTS' and ENAS' C).
    """

    source: str
    stem: str = "nasnet"
    stem_multiplier: tuple[int, int] = (3, 1)  # (CIFAR, ImageNet), as in TF slim's configs
    reductions_in_N: bool = False
    final_relu: bool = True
    base_conv: bool = False  # ENAS' ``layer_base``: a second ReLU-1x1-BN on h_{i-1} in every cell
    F_means: str = "penultimate"
    networks: dict[str, PaperNetwork] = field(default_factory=dict)

    def stem_multiplier_for(self, dataset: str) -> int:
        return self.stem_multiplier[0 if dataset == "cifar10" else 1]

    def layout(self, dataset: str) -> dict[str, Any]:
        """The `NetworkConfig` fields of this layout on ``dataset`` (sizes apart)."""
        return {
            "stem": self.stem,
            "stem_multiplier": self.stem_multiplier_for(dataset),
            "reductions_in_N": self.reductions_in_N,
            "final_relu": self.final_relu,
            "base_conv": self.base_conv,
        }

    def preset(self, name: str) -> PaperNetwork:
        if name not in self.networks:
            raise ConfigError(
                f"its paper reports no {name!r} network (only {', '.join(self.networks)}); "
                "give the size with --N and --F or --C"
            )
        return self.networks[name]


MACROS: dict[str, Macro] = {
    # Zoph et al. 2018, Tables 1-3; TF slim `nasnet.py` (cifar/mobile/large configs). Also the layout
    # for searched cells. Deviation: the large model's ``skip_reduction_layer_input`` is not wired.
    "nasnet-a": Macro(
        source="tensorflow/models research/slim/nets/nasnet/nasnet.py",
        networks={
            "cifar": PaperNetwork("cifar10", 6, 768, 32, 3.3e6),
            "mobile": PaperNetwork("imagenet", 4, 1056, 224, 5.3e6, 564e6),
            "large": PaperNetwork("imagenet", 6, 4032, 331, 88.9e6, 23.8e9, stem_multiplier=3),
        },
    ),
    # Real et al. 2019, Tables 2-3 ("N=6, F=36" etc., F = TF ``reduction_size``); tensorflow/tpu
    # `amoeba_net/model_builder.py`: NASNet's layout, 2 stem reduction cells, and a 32-filter ImageNet
    # stem (``stem_reduction_size``) for the large model too, unlike NASNet's 96 (96 gives 23.4B).
    "amoebanet-a": Macro(
        source="tensorflow/tpu models/official/amoeba_net/model_builder.py",
        F_means="C",
        networks={
            "cifar": PaperNetwork("cifar10", 6, 36, 32, 3.2e6),
            "mobile": PaperNetwork("imagenet", 4, 50, 224, 5.1e6, 555e6),
            "large": PaperNetwork("imagenet", 6, 190, 331, 86.7e6, 23.1e9),
        },
    ),
    # Liu et al. 2018 (PNAS), Tables 1, 3, 4 ("N=3, F=48" etc.); TF slim `pnasnet.py`:
    # num_cells = 12 (large) / 9 (mobile) include the two reductions, stem multiplier 3 / 1.
    "pnas": Macro(
        source="tensorflow/models research/slim/nets/nasnet/pnasnet.py",
        reductions_in_N=True,
        F_means="C",
        networks={
            "cifar": PaperNetwork("cifar10", 3, 48, 32, 3.2e6),
            "mobile": PaperNetwork("imagenet", 3, 54, 224, 5.1e6, 588e6),
            "large": PaperNetwork("imagenet", 4, 216, 331, 86.1e6, 25.0e9, stem_multiplier=3),
        },
    ),
    # Liu et al. 2019 (DARTS), Tables 1-2: 20 cells at C=36 on CIFAR, 14 cells at C=48 on ImageNet;
    # quark0/darts `cnn/model.py` NetworkCIFAR / NetworkImageNet (no ReLU before the global pool).
    # Deviations: DARTS always projects h_{i-2} by a 1x1, ours passes it unchanged when it already has
    # C channels (ImageNet's second cell: 2.4k params, 1.8M mult-adds); the aux head is NASNet's.
    "darts-v2": Macro(
        source="quark0/darts cnn/model.py",
        stem="darts",
        final_relu=False,
        F_means="C",
        networks={
            "cifar": PaperNetwork("cifar10", 6, 36, 32, 3.3e6),
            "mobile": PaperNetwork(
                "imagenet",
                N=4,
                F=48,
                image_size=224,
                params=4.7e6,
                mult_adds=574e6,
                mult_adds_tolerance=0.10,
                note="DARTS' 574M is not what its code builds: counting conv and FC layers of "
                "NetworkImageNet gives 523M (D-X-Y in quark0/darts#46), ours 528M",
            ),
        },
    ),
    # Pham et al. 2018 (ENAS), Table 2: 4.6M; `scripts/cifar10_micro_final.sh`: num_layers=15 (5 normal
    # cells per stage, reductions extra), out_filters=36, stem 3 x 36 (`micro_child.py`). Deviations:
    # our classifier has a bias (10 params); the aux head is NASNet's (ENAS' follows the first cell after
    # the second reduction).
    "enas": Macro(
        source="melodyguan/enas src/cifar10/micro_child.py",
        base_conv=True,
        F_means="C",
        networks={
            "cifar": PaperNetwork(
                "cifar10",
                N=5,
                F=36,
                image_size=32,
                params=4.6e6,
                code_params=3.894e6,
                note="the released final script builds 3.89M params (counted from micro_child.py "
                "in tests/space/test_published.py), not the paper's 4.6M; ours is compared with the script",
            )
        },
    ),
}
NASNET_MACRO = MACROS["nasnet-a"]
"""The layout for searched cells: NASNet's, with its paper sizes as defaults."""


def macro_for(genotype: Genotype) -> Macro:
    """The paper layout of a published cell; NASNet's for any other genotype."""
    name = genotype.name or ""
    return MACROS[name] if PUBLISHED.get(name) == genotype else NASNET_MACRO


def resolve_genotype(arg: str) -> Genotype:
    """`resolve_any_genotype` for the commands that build NASNet networks only (transfer, benches)."""
    genotype = resolve_any_genotype(arg)
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"{shown(arg)}: a NAS-Bench-201 cell; this takes NASNet-space cells only")
    return genotype


def resolve_any_genotype(arg: str) -> AnyGenotype:
    """A published cell by name (``nasnet-a``, ...), a NAS-Bench-201 arch string, a genotype file of
    either space, or a search's run folder (its ``best_genotype.json``).

    A genotype saved without a name is named after where it came from, so every command shows and
    files it under a name: ``<run>-best`` for a run's best genotype, else the file's stem.
    """
    if arg.lower() in PUBLISHED:
        return PUBLISHED[arg.lower()]
    if looks_like_arch(arg):
        return Nb201Genotype.from_arch(arg)
    path = Path(arg)
    if path.is_dir():
        if not (path / "best_genotype.json").is_file():
            raise GenotypeError(
                f"{arg}: a folder without best_genotype.json (no search run, or no child completed)"
            )
        path = path / "best_genotype.json"
    if not path.exists():
        raise GenotypeError(
            f"{arg!r} is neither a genotype file, an arch string nor a published cell ({', '.join(PUBLISHED)})"
        )
    genotype = load_genotype(path)
    if genotype.name is None:
        name = f"{path.resolve().parent.name}-best" if path.name == "best_genotype.json" else path.stem
        genotype = dataclasses.replace(genotype, name=name)
    return genotype
