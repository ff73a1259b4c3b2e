"""Every registered op (NASNet ops and landmark blocks): shapes, gradients, no in-place input writes."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from nas.errors import GenotypeError
from nas.ops import blocks
from nas.ops import primitives as ops

SIZES = [(7, 7), (8, 8), (5, 6)]


@pytest.mark.parametrize("C", [3, 8], ids=lambda c: f"C{c}")
@pytest.mark.parametrize("size", SIZES, ids=lambda hw: f"{hw[0]}x{hw[1]}")
@pytest.mark.parametrize("stride", [1, 2], ids=lambda s: f"s{s}")
@pytest.mark.parametrize("name", sorted(ops.OPS))
def test_op_contract(name: str, stride: int, size: tuple[int, int], C: int) -> None:
    torch.manual_seed(0)
    H, W = size
    op = ops.create_op(name, C, stride).train()
    x = torch.randn(2, C, H, W, requires_grad=True)
    before, version = x.detach().clone(), x._version

    out = op(x)
    assert out.shape == (2, C, math.ceil(H / stride), math.ceil(W / stride))
    assert torch.isfinite(out).all()
    out.sum().backward()
    for pname, p in op.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x._version == version and torch.equal(x.detach(), before), f"{name} wrote to its input"


@pytest.mark.parametrize("C", [1, 2, 4], ids=lambda c: f"C{c}")
@pytest.mark.parametrize("stride", [1, 2], ids=lambda s: f"s{s}")
def test_landmark_blocks_tiny_widths(stride: int, C: int) -> None:
    for name in ops.LANDMARK_OPS:
        out = ops.create_op(name, C, stride)(torch.randn(2, C, 5, 6))
        assert out.shape == (2, C, math.ceil(5 / stride), math.ceil(6 / stride)), name


def test_branch_widths_partition_any_C() -> None:
    for C in range(1, 100):
        for ratios in [(1 / 4, 1 / 2, 1 / 8, 1 / 8), (1 / 2, 1 / 2)]:
            widths = blocks.branch_widths(C, ratios)
            assert sum(widths) == C and min(widths) >= (1 if len(ratios) <= C else 0)
        assert blocks.branch_widths(C, (1 / 4,))[0] >= 1


def test_duplicate_registration_raises() -> None:
    factory = ops.OPS["conv_3x3"]
    with pytest.raises(ValueError, match="already registered"):
        ops.register_op("conv_3x3")(factory)
    assert ops.OPS["conv_3x3"] is factory


def test_unknown_op_raises_genotype_error() -> None:
    with pytest.raises(GenotypeError, match="unknown op"):
        ops.create_op("no_such_op", 8, 1)


def test_registry_contents() -> None:
    registered: list[str] = []

    def register(name: str) -> Callable[[blocks.OpFactory], blocks.OpFactory]:
        registered.append(name)
        return lambda factory: factory

    names = blocks.register_all(register)
    assert len(ops.NASNET_OPS) == 13 and len(set(ops.NASNET_OPS)) == 13
    assert ops.LANDMARK_OPS == names == tuple(registered)
    assert tuple(ops.OPS) == ops.NASNET_OPS + ops.LANDMARK_OPS + ops.PUBLISHED_OPS + ops.NB201_ONLY_OPS
    assert ops.SEARCH_OPS == ops.NASNET_OPS + ops.LANDMARK_OPS  # published-only variants stay out


def test_amoeba_bottleneck_matches_authors_widths() -> None:
    """tensorflow/tpu amoeba_net ``1x7_7x1``: 1x1 to int(C/4), 1x7, 7x1, 1x1 back; full width below C=4."""
    C = 40
    op = ops.create_op("conv_7x1_1x7_bottleneck", C, 1)
    convs = [m.weight.shape for m in op.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [(10, 40, 1, 1), (10, 10, 1, 7), (10, 10, 7, 1), (40, 10, 1, 1)]
    tiny = [m.weight.shape for m in ops.create_op("conv_7x1_1x7_bottleneck", 3, 2).modules()
            if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    assert tiny == [(3, 3, 1, 7), (3, 3, 7, 1)]


@pytest.mark.parametrize("name", blocks.BLOCKS)
def test_landmark_param_count_sane(name: str) -> None:
    n_params = sum(p.numel() for p in ops.create_op(name, 32, 1).parameters())
    assert 0 < n_params < 4 * 9 * 32 * 32  # nonzero, and below four full 3x3 convs at C=32
