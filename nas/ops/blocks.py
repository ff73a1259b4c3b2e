"""Landmark-CNN blocks as C -> C primitives of the search space.

Each block here is the core building block of a landmark hand-designed CNN, recast as a search
space op: a module ``Block(C, stride=1, affine=True)`` mapping (N, C, H, W) to
(N, C, ceil(H / stride), ceil(W / stride)) for any ``C >= 1`` and ``stride`` in {1, 2}, with every
BatchNorm built with ``affine``. `register_all` adds them to the op registry (`nas.ops.primitives`, which
imports this module, so this module does not import it).

=======================  =====================  ==========================================
op name                  class                  paper
=======================  =====================  ==========================================
``inception``            `Inception`            Szegedy et al. 2015 (GoogLeNet)
``res_basic``            `ResidualBasic`        He et al. 2016 (ResNet)
``res_bottleneck``       `ResidualBottleneck`   He et al. 2016 (ResNet)
``resnext_bottleneck``   `ResNeXtBottleneck`    Xie et al. 2017 (ResNeXt)
``dense_block``          `DenseBlock`           Huang et al. 2017 (DenseNet)
``se_conv_3x3``          `SEConv3x3`            Hu et al. 2018 (Squeeze-and-Excitation)
``fire``                 `Fire`                 Iandola et al. 2016 (SqueezeNet)
``nin_mlpconv``          `NiNMlpConv`           Lin et al. 2014 (Network in Network)
=======================  =====================  ==========================================

Conventions shared by all blocks:

* Internal widths are fractions of ``C``, computed by `branch_widths` alone (never by hand), so a
  block works for tiny and odd ``C`` (1, 3, 11, 22, ...). Where the paper's widths are absolute
  we keep the paper's *ratios*, stated per block.
* Every convolution is followed by BatchNorm (some papers predate BN or omit it; said per block).
* No block modifies its input in place: the cell feeds one state to several ops. In-place ReLUs
  appear only on tensors the block itself created (after a conv or BN, or after a residual sum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from nas.ops.conv import Conv2d

OpFactory = Callable[[int, int, bool], nn.Module]
"""``(C, stride, affine) -> nn.Module``, as in `nas.ops.primitives` (not imported from there: ops imports us)."""

__all__ = [
    "BLOCKS",
    "DenseBlock",
    "Fire",
    "Inception",
    "NiNMlpConv",
    "ResNeXtBottleneck",
    "ResidualBasic",
    "ResidualBottleneck",
    "SEConv3x3",
    "branch_widths",
    "register_all",
]


def branch_widths(C: int, ratios: Sequence[float]) -> tuple[int, ...]:
    """Derive internal channel widths from ``C``; the only place any block computes a width.

    Two cases, told apart by whether the ratios sum to 1:

    * **Partition** (``sum(ratios) == 1``, e.g. the parallel branches of a concatenation): the
      widths sum to exactly ``C``. Each is ``C * r`` rounded down, and the leftover channels go
      one each to the largest remainders (Hamilton's method; ties to the earlier ratio). When
      ``C >= len(ratios)`` every width is at least 1 (a zero takes a channel from the widest);
      for smaller ``C`` some widths are 0 and the caller omits those branches.
    * **Independent widths** (any other sum, e.g. ``(1/4,)`` for a bottleneck): each width is
      ``C * r`` rounded half up, and at least 1.

    >>> branch_widths(32, (1 / 4, 1 / 2, 1 / 8, 1 / 8)), branch_widths(11, (1 / 4,))
    ((8, 16, 4, 4), (3,))
    """
    if C < 1:
        raise ValueError(f"channel count must be >= 1, got {C}")
    if not ratios or any(r <= 0 for r in ratios):
        raise ValueError(f"ratios must be a non-empty sequence of positive numbers, got {ratios!r}")
    if not math.isclose(math.fsum(ratios), 1.0):
        return tuple(max(1, math.floor(C * r + 0.5)) for r in ratios)
    exact = [C * r for r in ratios]
    widths = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(ratios)), key=lambda i: (widths[i] - exact[i], i))
    for i in by_remainder[: C - sum(widths)]:
        widths[i] += 1
    while len(widths) <= C and 0 in widths:
        widths[widths.index(max(widths))] -= 1
        widths[widths.index(0)] += 1
    return tuple(widths)


def _check_stride(stride: int) -> None:
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")


def _conv_bn(
    C_in: int,
    C_out: int,
    kernel_size: int,
    *,
    stride: int = 1,
    groups: int = 1,
    affine: bool = True,
    relu: bool = True,
) -> nn.Module:
    """Conv (no bias, 'same' padding) -> BN(affine) [-> in-place ReLU, safe: it acts on the BN output].

    torchvision's ``Conv2dNormActivation`` layout (same state-dict keys), built here because it
    hard-codes ``nn.Conv2d`` and the strided 1x1 convolutions need `Conv2d` (`nas.ops.conv`).
    """
    layers: list[nn.Module] = [
        Conv2d(C_in, C_out, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(C_out, affine=affine),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _shortcut(C: int, stride: int, affine: bool) -> nn.Module:
    """ResNet's shortcut: identity, or the projection (strided 1x1 conv + BN, option B) at stride 2."""
    return nn.Identity() if stride == 1 else _conv_bn(C, C, 1, stride=stride, affine=affine, relu=False)


class Inception(nn.Module):
    """GoogLeNet's Inception module (Szegedy et al. 2015, "Going Deeper with Convolutions", Fig. 2b).

    Four parallel branches, concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3; 3x3 max pool -> 1x1.
    Output widths keep inception (3a)'s ratios 64:128:32:32 of its output, i.e. C/4, C/2, C/8, C/8,
    summing to exactly C; the reduce widths are (3a)'s 96 and 16 per 256 outputs, 3C/8 and C/16.

    Deviations: the 5x5 branch is factorized into two 3x3 convs, the "Inception-v2" module (BN-
    Inception, Ioffe & Szegedy 2015; Szegedy et al. 2016, "Rethinking the Inception Architecture",
    Fig. 5); every conv is Conv-BN-ReLU (BN came with BN-Inception); the stride is applied in
    every branch (the first 1x1, the first 3x3, the pool) rather than by a separate
    grid-reduction module. For C < 4 some branches have no channels and are omitted (see
    `branch_widths`).
    """

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        super().__init__()
        _check_stride(stride)
        w_1x1, w_3x3, w_5x5, w_pool = branch_widths(C, (1 / 4, 1 / 2, 1 / 8, 1 / 8))
        reduce_3x3, reduce_5x5 = branch_widths(C, (3 / 8, 1 / 16))
        conv = partial(_conv_bn, affine=affine)
        self.branches = nn.ModuleList()
        if w_1x1:
            self.branches.append(conv(C, w_1x1, 1, stride=stride))
        if w_3x3:
            self.branches.append(
                nn.Sequential(conv(C, reduce_3x3, 1), conv(reduce_3x3, w_3x3, 3, stride=stride))
            )
        if w_5x5:
            self.branches.append(
                nn.Sequential(
                    conv(C, reduce_5x5, 1),
                    conv(reduce_5x5, w_5x5, 3, stride=stride),
                    conv(w_5x5, w_5x5, 3),
                )
            )
        if w_pool:
            self.branches.append(nn.Sequential(nn.MaxPool2d(3, stride, padding=1), conv(C, w_pool, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class ResidualBasic(nn.Module):
    """ResNet's basic block (He et al. 2016, "Deep Residual Learning for Image Recognition", Fig. 2).

    3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN, plus the shortcut, then ReLU. The shortcut
    is the identity, or at stride 2 the projection (strided 1x1 conv + BN; the paper's option B).
    As in torchvision, BN follows every conv (the paper's Sec. 3.4 does the same). No deviation.
    """

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        super().__init__()
        _check_stride(stride)
        self.body = nn.Sequential(
            _conv_bn(C, C, 3, stride=stride, affine=affine),
            _conv_bn(C, C, 3, affine=affine, relu=False),
        )
        self.shortcut = _shortcut(C, stride, affine)
        self.relu = nn.ReLU(inplace=True)  # acts on the fresh sum, never on the input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.body(x) + self.shortcut(x))
        return out


class ResidualBottleneck(nn.Module):
    """ResNet's bottleneck block (He et al. 2016, Fig. 5 right).

    1x1 reduce -> 3x3 (stride) -> 1x1 expand, each conv followed by BN (ReLU after the first two),
    plus the shortcut of `ResidualBasic`, then ReLU. The reduced width is C/4, ResNet's expansion
    of 4 (`branch_widths` with ratio `width_ratio`). The stride sits on the 3x3 conv, as in
    torchvision's "ResNet v1.5", not on the first 1x1 as in the paper.
    """

    width_ratio: float = 1 / 4
    """Bottleneck width as a fraction of C."""

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        super().__init__()
        _check_stride(stride)
        (width,) = branch_widths(C, (self.width_ratio,))
        self.body = nn.Sequential(
            _conv_bn(C, width, 1, affine=affine),
            _conv_bn(width, width, 3, stride=stride, groups=self.cardinality(width), affine=affine),
            _conv_bn(width, C, 1, affine=affine, relu=False),
        )
        self.shortcut = _shortcut(C, stride, affine)
        self.relu = nn.ReLU(inplace=True)  # acts on the fresh sum, never on the input

    def cardinality(self, width: int) -> int:
        """Number of groups of the 3x3 conv: 1, a plain ResNet bottleneck."""
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.body(x) + self.shortcut(x))
        return out


class ResNeXtBottleneck(ResidualBottleneck):
    """ResNeXt's bottleneck block (Xie et al. 2017, "Aggregated Residual Transformations", Fig. 3c).

    The `ResidualBottleneck` with a grouped 3x3 conv. Widths follow the 32x4d template (Table 1:
    128-wide bottleneck for 256 outputs), i.e. C/2. The paper fixes the cardinality at 32 with 4
    channels per group; since our widths are small and arbitrary, the cardinality is derived: the
    largest divisor of the bottleneck width that is at most 32 and leaves at least 4 channels per
    group; 1 (a plain bottleneck) when no divisor above 1 qualifies, e.g. widths below 8 or prime.
    At C=256 this is exactly 32x4d; at C=32 it is 4 groups of 4.
    """

    width_ratio = 1 / 2
    max_cardinality: int = 32
    min_group_width: int = 4

    def cardinality(self, width: int) -> int:
        """Largest divisor of ``width`` <= `max_cardinality` with ``width / g >= min_group_width``."""
        limit = min(self.max_cardinality, width // self.min_group_width)
        return max((g for g in range(1, limit + 1) if width % g == 0), default=1)


class _DenseLayer(nn.Module):
    """One DenseNet-BC layer: BN-ReLU-1x1 conv (4k) -> BN-ReLU-3x3 conv (k), appended to the input."""

    def __init__(self, C_in: int, growth: int, affine: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(C_in, affine=affine),
            nn.ReLU(inplace=True),  # acts on the BN output, never on the input
            _conv_bn(C_in, 4 * growth, 1, affine=affine),  # conv -> BN -> ReLU: the 2nd BN-ReLU
            nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseBlock(nn.Module):
    """A small DenseNet-BC dense block with its transition (Huang et al. 2017, "Densely Connected
    Convolutional Networks", Sec. 3).

    Two bottleneck layers, BN-ReLU-1x1 conv (4k)-BN-ReLU-3x3 conv (k), each concatenating its k
    new feature maps to its input, then a transition BN-ReLU-1x1 conv back to C channels and, at
    stride 2, the paper's 2x2 average pool, stride 2, with ``ceil_mode=True`` so odd sizes give
    ceil(H / 2) (the last, partial window averages only the pixels it covers).

    Deviations: the growth rate is derived, k = C/4 (`branch_widths`), so the block costs about
    one 3x3 conv; the transition thus compresses C + 2k = 3C/2 channels by 2/3, not DenseNet-BC's
    1/2. Paper blocks have 6 to 48 layers; we use 2.
    """

    num_layers: int = 2

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        super().__init__()
        _check_stride(stride)
        (growth,) = branch_widths(C, (1 / 4,))
        self.layers = nn.Sequential(
            *(_DenseLayer(C + i * growth, growth, affine) for i in range(self.num_layers))
        )
        self.transition = nn.Sequential(
            nn.BatchNorm2d(C + self.num_layers * growth, affine=affine),
            nn.ReLU(inplace=True),  # acts on the BN output, never on the input
            nn.Conv2d(C + self.num_layers * growth, C, 1, bias=False),
        )
        if stride == 2:
            self.transition.append(nn.AvgPool2d(2, 2, ceil_mode=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.transition(self.layers(x))
        return out


class SEConv3x3(nn.Sequential):
    """A NASNet-style 3x3 conv with Squeeze-and-Excitation gating (Hu et al. 2018,
    "Squeeze-and-Excitation Networks", Fig. 1).

    ReLU -> 3x3 conv (stride) -> BN, then torchvision's `SqueezeExcitation` (global average pool,
    1x1 conv to C/4, ReLU, 1x1 conv to C, sigmoid, channel-wise scale). Deviation: the reduction
    ratio is 4 (the paper's default is 16; 4 is MobileNetV3's), since cell widths are small; the
    squeeze width comes from `branch_widths` and is at least 1.
    """

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        # Imported here: `torchvision` imports all its models and datasets (1.7 s in every process that
        # builds a network, each Ray worker and `nas` command included).
        from torchvision.ops.misc import SqueezeExcitation

        _check_stride(stride)
        (squeeze,) = branch_widths(C, (1 / 4,))
        super().__init__(
            nn.ReLU(inplace=False),  # the input is shared: never ReLU it in place
            nn.Conv2d(C, C, 3, stride, padding=1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
            SqueezeExcitation(C, squeeze),
        )


class Fire(nn.Module):
    """SqueezeNet's Fire module (Iandola et al. 2016, "SqueezeNet", Sec. 3.2, Fig. 1).

    A 1x1 squeeze conv to C/4 channels, then a 1x1 expand and a 3x3 expand conv, concatenated
    back to C (half each: the paper's pct_3x3 = 0.5, via `branch_widths`; for C=1 only the 3x3).

    Deviations: the squeeze ratio is 1/4 (the paper's SqueezeNet uses 1/8; it reports higher
    ratios as more accurate), BN follows every conv (SqueezeNet has none), and at stride 2 both
    expand convs are strided (the squeeze runs at full resolution, the 1x1 expand subsamples)
    instead of SqueezeNet's max pools between modules.
    """

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        super().__init__()
        _check_stride(stride)
        (squeeze,) = branch_widths(C, (1 / 4,))
        w_3x3, w_1x1 = branch_widths(C, (1 / 2, 1 / 2))
        self.squeeze = _conv_bn(C, squeeze, 1, affine=affine)
        self.expands = nn.ModuleList()
        if w_1x1:
            self.expands.append(_conv_bn(squeeze, w_1x1, 1, stride=stride, affine=affine))
        self.expands.append(_conv_bn(squeeze, w_3x3, 3, stride=stride, affine=affine))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([expand(s) for expand in self.expands], dim=1)


class NiNMlpConv(nn.Sequential):
    """Network in Network's mlpconv layer (Lin et al. 2014, "Network In Network", Sec. 3.2).

    A 3x3 conv (stride) followed by two 1x1 convs (the "micro MLP"), all C wide, each conv
    followed by BN and ReLU. Deviations: BN is added (NiN predates it), and the spatial kernel is
    3x3 rather than the paper's 5x5/3x3 mix; the stride replaces NiN's max pools.
    """

    def __init__(self, C: int, stride: int = 1, affine: bool = True) -> None:
        _check_stride(stride)
        super().__init__(
            _conv_bn(C, C, 3, stride=stride, affine=affine),
            _conv_bn(C, C, 1, affine=affine),
            _conv_bn(C, C, 1, affine=affine),
        )


BLOCKS: dict[str, OpFactory] = {
    "inception": Inception,
    "res_basic": ResidualBasic,
    "res_bottleneck": ResidualBottleneck,
    "resnext_bottleneck": ResNeXtBottleneck,
    "dense_block": DenseBlock,
    "se_conv_3x3": SEConv3x3,
    "fire": Fire,
    "nin_mlpconv": NiNMlpConv,
}
"""Op name -> block class (each class is its own ``(C, stride, affine)`` factory), in registry order."""


def register_all(register: Callable[[str], Callable[[OpFactory], OpFactory]]) -> tuple[str, ...]:
    """Register every block with ``register`` (`nas.ops.primitives.register_op`); return their names, in order."""
    for name, factory in BLOCKS.items():
        register(name)(factory)
    return tuple(BLOCKS)
