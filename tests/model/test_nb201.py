"""The NAS-Bench-201 network: the authors' parameter counts exactly, shapes, finite outputs, gradients."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError
from nas.model.build import build_any_network
from nas.model.counting import count_params
from nas.model.nb201 import Nb201Network
from nas.model.network import NASNetwork, NetworkConfig, NetworkOutput
from nas.space.nb201 import Nb201Genotype
from nas.space.published import PUBLISHED

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ONE_BY_ONE = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
ARCHS = (ALL_NONE, ALL_CONV, MIXED, BEST, ONE_BY_ONE)


def _ours(arch: str, N: int, C: int) -> Nb201Network:
    return Nb201Network(Nb201Genotype.from_arch(arch), NetworkConfig(N=N, C=C))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(("N", "C"), [(5, 16), (1, 4)])
def test_param_count_equals_xautodl(arch: str, N: int, C: int) -> None:
    xautodl = pytest.importorskip(
        "xautodl",
        reason="xautodl (the authors' builder) is not installed: pip install --no-deps xautodl (its numpy<=1.19.5 pin conflicts)",
    )
    from xautodl.config_utils import dict2config
    from xautodl.models import get_cell_based_tiny_net

    del xautodl
    config = dict2config({"name": "infer.tiny", "C": C, "N": N, "arch_str": arch, "num_classes": 10}, None)
    with torch.device("meta"):
        theirs = sum(p.numel() for p in get_cell_based_tiny_net(config).parameters())
        ours = count_params(_ours(arch, N, C))
    assert ours == theirs


@pytest.mark.parametrize("arch", [ALL_NONE, ALL_CONV, ONE_BY_ONE])
def test_forward_backward(arch: str) -> None:
    torch.manual_seed(0)
    model = _ours(arch, 1, 4).train()
    out = model(torch.randn(3, 3, 32, 32))
    assert isinstance(out, NetworkOutput) and out.aux_logits is None
    assert out.logits.shape == (3, 10) and torch.isfinite(out.logits).all()
    out.logits.logsumexp(1).sum().backward()
    # ``none`` multiplies by zero (as xautodl's Zero), so even an all-none cell passes (zero) gradients on
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_dispatch_and_refusals() -> None:
    config = NetworkConfig(N=1, C=4)
    assert isinstance(build_any_network(Nb201Genotype.from_arch(MIXED), config), Nb201Network)
    assert isinstance(build_any_network(PUBLISHED["darts-v2"], config), NASNetwork)
    for bad in (NetworkConfig(N=1, C=4, auxiliary=True), NetworkConfig(N=1, C=4, drop_path_prob=0.2)):
        with pytest.raises(ConfigError, match="no auxiliary head, drop path or dropout"):
            build_any_network(Nb201Genotype.from_arch(MIXED), bad)
