"""The op registry: every primitive of the search space, by name.

A primitive is a factory ``(C, stride, affine) -> nn.Module`` mapping (N, C, H, W) to
(N, C, ceil(H / stride), ceil(W / stride)); stride is the only shape change, so the cell can wire
any op to any state. Names follow DARTS (``sep_conv_3x3``, ``skip_connect``, ...) so published
genotypes load unchanged.

The 13 NASNet ops are those of Zoph et al. 2018, Sec. 3 (identity; 1x3 then 3x1 and 1x7 then 7x1
convolutions; 3x3 dilated conv; 3x3 average pool; 3x3, 5x5, 7x7 max pool; 1x1 and 3x3 convs;
3x3, 5x5, 7x7 depthwise-separable convs). Convolutions are ReLU-Conv-BN as in the TF reference
(`research/slim/nets/nasnet/nasnet_utils.py`); separable convs are applied twice, as there.
The landmark-CNN blocks (inception, residual, dense, SE, fire, ...) live in `nas.ops.blocks` and are
registered at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import GenotypeError
from nas.ops import blocks
from nas.ops.conv import Conv2d
from nas.registry import add

OpFactory = Callable[[int, int, bool], nn.Module]

OPS: dict[str, OpFactory] = {}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Register a factory under ``name``; a second registration of the same name is a bug."""

    return lambda factory: add(OPS, "op", name, factory)


def create_op(name: str, C: int, stride: int, affine: bool = True) -> nn.Module:
    """Build the op ``name`` for ``C`` channels; unknown names are a `GenotypeError`."""
    try:
        factory = OPS[name]
    except KeyError:
        raise GenotypeError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None
    return factory(C, stride, affine)


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (any kernel, stride, dilation) -> BN: the NASNet convolution."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int],
        padding: int | tuple[int, int],
        dilation: int = 1,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            Conv2d(C_in, C_out, kernel_size, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise dilated conv -> pointwise conv -> BN (DARTS' ``dil_conv``)."""

    def __init__(self, C: int, kernel_size: int, stride: int, dilation: int, affine: bool) -> None:
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride, padding, dilation=dilation, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


class SepConv(nn.Sequential):
    """The NASNet separable conv: (ReLU, depthwise kxk, pointwise 1x1, BN) applied twice.

    Only the first depthwise conv strides, as in ``_stacked_separable_conv`` of the reference.
    """

    def __init__(self, C: int, kernel_size: int, stride: int, affine: bool) -> None:
        padding = kernel_size // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride, padding, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
            nn.ReLU(inplace=True),
            nn.Conv2d(C, C, kernel_size, 1, padding, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without discarding half the pixels (NASNet ``factorized_reduction``).

    Two stride-2 1x1 convs, the second on the input shifted by one pixel, concatenated. The shift
    pads right/bottom first, so odd sizes give ceil(H / 2) on both paths. Odd ``C_out`` is split
    unevenly (the reference requires it even); with ``C_out == 1`` only the unshifted path remains.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = Conv2d(C_in, C_out - C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = Conv2d(C_in, C_out // 2, 1, stride=2, bias=False) if C_out > 1 else None
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if self.conv_2 is None:
            return self.bn(self.conv_1(x))  # type: ignore[no-any-return]
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))  # type: ignore[no-any-return]


class Pool(nn.Module):
    """kxk max or average pool with 'same' padding; averages ignore the padding, as TF's SAME."""

    def __init__(self, kind: str, kernel_size: int, stride: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.pool: nn.Module = (
            nn.AvgPool2d(kernel_size, stride, pad, count_include_pad=False)
            if kind == "avg"
            else nn.MaxPool2d(kernel_size, stride, pad)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)  # type: ignore[no-any-return]


def _identity(C: int, stride: int, affine: bool) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine)


register_op("skip_connect")(_identity)
register_op("conv_1x1")(lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine=affine))
register_op("conv_3x3")(lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine=affine))


def _factorized_conv(k: int) -> OpFactory:
    """1xk then kx1 conv (``conv_3x1_1x3``, ``conv_7x1_1x7`` in DARTS' naming), one ReLU and one BN."""

    def factory(C: int, stride: int, affine: bool) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, (1, k), stride=(1, stride), padding=(0, k // 2), bias=False),
            nn.Conv2d(C, C, (k, 1), stride=(stride, 1), padding=(k // 2, 0), bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )

    return factory


register_op("conv_3x1_1x3")(_factorized_conv(3))
register_op("conv_7x1_1x7")(_factorized_conv(7))


class BottleneckFactorizedConv(nn.Sequential):
    """AmoebaNet's ``1x7_7x1``: a 1x7 then 7x1 conv inside a C/4 bottleneck (Real et al. 2019).

    From the authors' code (tensorflow/tpu `models/official/amoeba_net/network_utils.py`,
    ``BaseCell._apply_operation``): ReLU, 1x1 to ``int(C / 4)``, BN, ReLU, 1x7 (stride 1 x s), BN,
    ReLU, 7x1 (stride s x 1), BN, ReLU, 1x1 back to C, BN. Below C = 4 the bottleneck would be empty
    and, as there, the 1x7 and 7x1 run at full width: ReLU, 1x7, BN, ReLU, 7x1, BN.
    """

    def __init__(self, C: int, stride: int, affine: bool, k: int = 7) -> None:
        mid = C // 4
        width = mid if mid >= 1 else C
        factorized: list[nn.Module] = [
            nn.Conv2d(width, width, (1, k), stride=(1, stride), padding=(0, k // 2), bias=False),
            nn.BatchNorm2d(width, affine=affine),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, (k, 1), stride=(stride, 1), padding=(k // 2, 0), bias=False),
            nn.BatchNorm2d(width, affine=affine),
        ]
        if mid < 1:
            super().__init__(nn.ReLU(inplace=False), *factorized)
            return
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, mid, 1, bias=False),
            nn.BatchNorm2d(mid, affine=affine),
            nn.ReLU(inplace=True),
            *factorized,
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


register_op("dil_conv_3x3")(lambda C, stride, affine: DilConv(C, 3, stride, 2, affine))
register_op("avg_pool_3x3")(lambda C, stride, affine: Pool("avg", 3, stride))


def _max_pool(k: int) -> OpFactory:
    return lambda C, stride, affine: Pool("max", k, stride)


def _sep_conv(k: int) -> OpFactory:
    return lambda C, stride, affine: SepConv(C, k, stride, affine)


for _k in (3, 5, 7):
    register_op(f"max_pool_{_k}x{_k}")(_max_pool(_k))
    register_op(f"sep_conv_{_k}x{_k}")(_sep_conv(_k))

NASNET_OPS: tuple[str, ...] = tuple(OPS)
"""The 13 ops of the NASNet search space, in registration order."""

# --- Landmark-CNN blocks (nas.ops.blocks): each a C -> C primitive that takes stride. ---
LANDMARK_OPS: tuple[str, ...] = blocks.register_all(register_op)
"""The blocks of the landmark CNNs, registered by `nas.ops.blocks.register_all`."""

# --- Variants only a published cell uses: registered last, so the search space's op indices stay put. ---
register_op("conv_7x1_1x7_bottleneck")(lambda C, stride, affine: BottleneckFactorizedConv(C, stride, affine))
PUBLISHED_OPS: tuple[str, ...] = ("conv_7x1_1x7_bottleneck",)
"""Ops of published cells outside the search space (AmoebaNet-A's bottlenecked 1x7-7x1)."""
SEARCH_OPS: tuple[str, ...] = NASNET_OPS + LANDMARK_OPS
"""The default search space: the NASNet ops and the landmark blocks."""


class Zero(nn.Module):
    """NAS-Bench-201's ``none``: zeros of the output's shape, so a node summing its edges ignores it.

    As xautodl's ``Zero`` (``x.mul(0.0)``, strided by slicing): multiplying keeps the graph connected,
    so the input still gets a (zero) gradient, and NaNs propagate as in the authors' networks.
    """

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


# --- NAS-Bench-201's names (Dong & Yang 2020): registered last, outside the NASNet search space. Its
# skip_connect and avg_pool_3x3 are ours at stride 1 (identity; 3x3 average, count_include_pad=False);
# nor_conv_kxk is the same ReLU-Conv-BN as conv_kxk under the benchmark's name. ---
register_op("none")(lambda C, stride, affine: Zero(stride))
register_op("nor_conv_1x1")(OPS["conv_1x1"])
register_op("nor_conv_3x3")(OPS["conv_3x3"])
NB201_ONLY_OPS: tuple[str, ...] = ("none", "nor_conv_1x1", "nor_conv_3x3")
"""Ops registered for NAS-Bench-201 cells only (`nas.space.nb201.NB201_OPS` adds skip_connect, avg_pool_3x3)."""
