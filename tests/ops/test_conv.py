"""`nas.ops.conv.Conv2d`: the CPU route around oneDNN's faulty strided 1x1 weight-gradient kernel."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from nas.model.network import NetworkConfig
from nas.model.supernet import SuperNetwork
from nas.ops import primitives as ops
from nas.ops.conv import Conv2d

# The shape that hung or double-freed in `jit_1x1:avx2 backward_weights` (torch 2.14.1, AVX2-only CPU).
BUG_SHAPE = dict(C_in=4, C_out=4, size=32, batch=32)


def _raw_strided_pointwise(module: nn.Module) -> list[str]:
    return [
        name
        for name, m in module.named_modules()
        if isinstance(m, nn.Conv2d)
        and not isinstance(m, Conv2d)
        and m.kernel_size == (1, 1)
        and m.stride != (1, 1)
    ]


@pytest.mark.parametrize("name", sorted(ops.OPS))
def test_no_op_builds_a_strided_1x1_conv_that_reaches_onednn(name: str) -> None:
    assert _raw_strided_pointwise(ops.create_op(name, 8, 2)) == []


def test_nor_the_networks_around_the_ops() -> None:
    supernet = SuperNetwork(NetworkConfig(N=1, C=4), num_blocks=2, ops=tuple(sorted(ops.OPS)))
    assert _raw_strided_pointwise(supernet) == []


@pytest.mark.parametrize("groups", [1, 2])
def test_same_output_and_gradients_as_the_strided_convolution(groups: int) -> None:
    torch.manual_seed(0)
    ours = Conv2d(4, 6, 1, stride=2, bias=True, groups=groups)
    reference = nn.Conv2d(4, 6, 1, stride=2, bias=True, groups=groups)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, 9, 8)  # odd height: the subsampled input keeps ceil(H / 2) rows, as stride 2 does
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = ours(x_ours), reference(x_ref)  # NCHW: the reference takes the sound kernel
    assert out.shape == expected.shape == (3, 6, 5, 4)
    torch.testing.assert_close(out, expected)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad)
    torch.testing.assert_close(ours.bias.grad, reference.bias.grad)


def test_the_shape_that_hung_trains_in_channels_last() -> None:
    # In a child process with a deadline: on an affected CPU a regression hangs rather than fails.
    code = (
        "import torch\n"
        "from nas.ops.conv import Conv2d\n"
        f"s = {BUG_SHAPE!r}\n"
        "conv = Conv2d(s['C_in'], s['C_out'], 1, stride=2, bias=False).to(memory_format=torch.channels_last)\n"
        "x = torch.randn(s['batch'], s['C_in'], s['size'], s['size']).to(memory_format=torch.channels_last)\n"
        "for _ in range(3):\n"
        "    conv(x.requires_grad_()).sum().backward()\n"
        "print(tuple(conv.weight.grad.shape))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(4, 4, 1, 1)"
