"""CIFAR and ImageNet networks stacked from a genotype's cells (Zoph et al. 2018, Fig. 2).

CIFAR: 3x3 stem, then N normal cells, a reduction, N normal, a reduction, N normal.
ImageNet: a stride-2 3x3 stem conv (no padding) and two reduction cells at C/4 and C/2, then the
same three stages. Each reduction doubles C. An auxiliary head sits after the last normal cell
before the second reduction, as in the TF reference (`research/slim/nets/nasnet/nasnet.py`).
Other papers' layouts (`nas.space.published.Macro`) are fields of `NetworkConfig`: DARTS' ImageNet
stem (``stem="darts"``: three 3x3/2 convs, no stem cells, `quark0/darts` ``NetworkImageNet``),
PNASNet's stages of N, N-1, N-1 normal cells (``reductions_in_N``), no ReLU before the pool (DARTS),
ENAS' second 1x1 on h_{i-1} in every cell (``base_conv``).

Sizes use the paper's ``N @ F`` notation: F is the width of the penultimate layer, i.e. the last
normal cell's output, ``F = outputs(normal) * 4 * C``. `channels_from_filters` does that arithmetic.
Deviations from the reference: the large model's ``skip_reduction_layer_input`` wiring is not
reproduced (every cell reads the two cells before it); drop path is not scaled by depth.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from nas.errors import ConfigError, GenotypeError
from nas.model.cell import DropPath, NASCell
from nas.space.genotype import Genotype
from nas.space.protocol import GenotypeLike
from nas.space.published import Macro, PaperNetwork

DATASETS = {"cifar10": 10, "imagenet": 1000}
NUM_REDUCTIONS = 2
WIDTH_GROWTH = 1 << NUM_REDUCTIONS  # each reduction doubles C
_DEFAULT_STEM_MULTIPLIER = {"cifar10": 3, "imagenet": 1}
_IMAGENET_STEM_FILTERS = 32  # times stem_multiplier; 32 for NASNet-A mobile, 96 for large
STEMS = ("nasnet", "darts")


@dataclass(frozen=True)
class NetworkConfig:
    """How to stack cells; kept apart from the modules so it can be logged, hashed and compared."""

    dataset: str = "cifar10"
    N: int = 2
    C: int = 16
    num_classes: int | None = None
    stem_multiplier: int | None = None
    auxiliary: bool = False
    drop_path_prob: float = 0.0
    dropout: float = 0.0
    image_size: int | None = None
    stem: str = "nasnet"
    reductions_in_N: bool = False
    final_relu: bool = True
    base_conv: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; known: {', '.join(DATASETS)}")
        if self.N < 1:
            raise ConfigError(f"N (cells per stage) must be >= 1, got {self.N}")
        if self.C < 1:
            raise ConfigError(f"C (channels per block) must be >= 1, got {self.C}")
        if self.stem not in STEMS:
            raise ConfigError(f"unknown stem {self.stem!r}; known: {', '.join(STEMS)}")
        if self.stem_multiplier is not None and self.stem_multiplier < 1:
            raise ConfigError(f"stem_multiplier must be >= 1, got {self.stem_multiplier}")
        if not 0.0 <= self.drop_path_prob < 1.0 or not 0.0 <= self.dropout < 1.0:
            raise ConfigError("drop_path_prob and dropout must be in [0, 1)")
        if self.num_classes is None:
            object.__setattr__(self, "num_classes", DATASETS[self.dataset])
        if self.stem_multiplier is None:
            object.__setattr__(self, "stem_multiplier", _DEFAULT_STEM_MULTIPLIER[self.dataset])
        if self.image_size is None:
            object.__setattr__(self, "image_size", 32 if self.dataset == "cifar10" else 224)
        min_size = 8 if self.dataset == "cifar10" else 32
        if self.image_size is None or self.image_size < min_size:
            raise ConfigError(f"image_size must be >= {min_size} for {self.dataset}, got {self.image_size}")

    @classmethod
    def from_filters(cls, genotype: Genotype, F: int, **fields: Any) -> NetworkConfig:
        """The config whose penultimate layer has F filters (the paper's N @ F)."""
        return cls(C=channels_from_filters(genotype, F), **fields)

    def filters(self, genotype: Genotype) -> int:
        """F, the penultimate width, of this config for ``genotype``."""
        return len(genotype.normal.output_states()) * self.C * WIDTH_GROWTH

    def stage_cells(self) -> tuple[int, ...]:
        """Normal cells per stage: N each, or N, N-1, N-1 when the reductions count in N (PNASNet)."""
        if self.reductions_in_N:
            return (self.N,) + (self.N - 1,) * NUM_REDUCTIONS
        return (self.N,) * (NUM_REDUCTIONS + 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def channels_from_filters(genotype: Genotype, F: int) -> int:
    """C such that ``F = k * 2**2 * C``, k being the number of states the normal cell concatenates.

    NASNet-A concatenates k = 6 states, so 4 @ 1056 has C = 44 and 6 @ 768 has C = 32.
    """
    k = len(genotype.normal.output_states())
    divisor = k * WIDTH_GROWTH
    if F < divisor or F % divisor:
        raise ConfigError(
            f"F={F} is not realizable for this genotype: F must be a positive multiple of {divisor} "
            f"({k} concatenated states x 2^{NUM_REDUCTIONS} from the reductions)"
        )
    return F // divisor


def channels_for(genotype: Genotype, F: int, macro: Macro) -> int:
    """C from a paper's F: F itself where the paper means the first stage's width (AmoebaNet, PNAS)."""
    return F if macro.F_means == "C" else channels_from_filters(genotype, F)


def paper_config(genotype: Genotype, macro: Macro, paper: PaperNetwork, **fields: Any) -> NetworkConfig:
    """The config of a network a paper reports, in that paper's layout (``fields`` override)."""
    layout = macro.layout(paper.dataset)
    if paper.stem_multiplier is not None:
        layout["stem_multiplier"] = paper.stem_multiplier
    sizes = {"dataset": paper.dataset, "N": paper.N, "C": channels_for(genotype, paper.F, macro)}
    return NetworkConfig(**{**layout, **sizes, "image_size": paper.image_size, **fields})


class NetworkOutput(NamedTuple):
    logits: torch.Tensor
    aux_logits: torch.Tensor | None


class AuxiliaryHead(nn.Module):
    """ReLU, 5x5/3 avg pool, 1x1 conv 128, BN, ReLU, conv 768 over the whole map, BN, ReLU, FC."""

    def __init__(self, C_in: int, size: int, num_classes: int) -> None:
        super().__init__()
        pooled = (size - 5) // 3 + 1 if size >= 5 else 1
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3) if size >= 5 else nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(C_in, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, pooled, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))  # type: ignore[no-any-return]


class NASNetwork(nn.Module):
    """A stem, cells, global pooling and a classifier; `forward` returns `NetworkOutput`."""

    def __init__(self, genotype: Genotype, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        assert config.num_classes is not None and config.stem_multiplier is not None  # set by the config
        assert config.image_size is not None
        C, size = config.C, config.image_size
        self.cells = nn.ModuleList()
        self.stem1: nn.Module | None = None
        reduction_prev = False
        if config.dataset == "cifar10":
            C_stem = config.stem_multiplier * C
            self.stem: nn.Module = nn.Sequential(
                nn.Conv2d(3, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem)
            )
            C_pp = C_p = C_stem
            stem_cells: list[int] = []
        elif config.stem == "darts":
            # DARTS' NetworkImageNet: stem0 = two 3x3/2 convs to C/2 and C, stem1 = a third to C; the
            # first cell reads (stem0, stem1), hence reduction_prev.
            self.stem = nn.Sequential(
                nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(C // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(C),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C)
            )
            size = math.ceil(size / 8)
            C_pp = C_p = C
            reduction_prev, stem_cells = True, []
        else:
            C_stem = _IMAGENET_STEM_FILTERS * config.stem_multiplier
            self.stem = nn.Sequential(nn.Conv2d(3, C_stem, 3, stride=2, bias=False), nn.BatchNorm2d(C_stem))
            size = (size - 3) // 2 + 1
            C_pp = C_p = C_stem
            stem_cells = [max(1, C // 4), max(1, C // 2)]
        for C_cell in stem_cells:
            cell = NASCell(
                genotype.reduce,
                C_prev_prev=C_pp,
                C_prev=C_p,
                C=C_cell,
                reduction=True,
                reduction_prev=reduction_prev,
            )
            self.cells.append(cell)
            C_pp, C_p, reduction_prev, size = C_p, cell.C_out, True, math.ceil(size / 2)
        self.num_stem_cells = len(stem_cells)

        self.aux_after = -1
        C_aux, size_aux = 0, 0
        C_curr = C
        for stage, num_normal in enumerate(config.stage_cells()):
            if stage > 0:
                C_curr *= 2
                cell = NASCell(
                    genotype.reduce, C_prev_prev=C_pp, C_prev=C_p, C=C_curr, reduction=True,
                    reduction_prev=reduction_prev, base_conv=config.base_conv,
                )  # fmt: skip
                self.cells.append(cell)
                C_pp, C_p, reduction_prev, size = C_p, cell.C_out, True, math.ceil(size / 2)
            for _ in range(num_normal):
                cell = NASCell(
                    genotype.normal, C_prev_prev=C_pp, C_prev=C_p, C=C_curr, reduction=False,
                    reduction_prev=reduction_prev, base_conv=config.base_conv,
                )  # fmt: skip
                self.cells.append(cell)
                C_pp, C_p, reduction_prev = C_p, cell.C_out, False
            if stage == NUM_REDUCTIONS - 1:
                self.aux_after, C_aux, size_aux = len(self.cells) - 1, C_p, size
        self.aux_head = AuxiliaryHead(C_aux, size_aux, config.num_classes) if config.auxiliary else None
        self.final = nn.Sequential(
            nn.ReLU(inplace=False) if config.final_relu else nn.Identity(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(C_p, config.num_classes)
        self.set_drop_path_prob(config.drop_path_prob)

    def set_drop_path_prob(self, prob: float) -> None:
        """ScheduledDropPath: the trainer raises this linearly over training."""
        for module in self.modules():
            if isinstance(module, DropPath):
                module.set_prob(prob)

    def forward(self, x: torch.Tensor) -> NetworkOutput:
        s0 = self.stem(x)
        s1 = self.stem1(s0) if self.stem1 is not None else s0
        aux_logits = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_after and self.aux_head is not None and self.training:
                aux_logits = self.aux_head(s1)
        logits = self.classifier(self.dropout(self.final(s1)))
        return NetworkOutput(logits, aux_logits)


def build_network(genotype: GenotypeLike, config: NetworkConfig) -> NASNetwork:
    """The CIFAR or ImageNet network of ``config.dataset`` built from ``genotype``; a genotype of a
    space this module cannot build is a `GenotypeError` (the trainer records the child as failed)."""
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"a NASNet network is built from NASNet cells, not a {type(genotype).__name__}")
    return NASNetwork(genotype, config)
