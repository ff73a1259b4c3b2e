"""The proxy registry and what every proxy shares: the child's logits, its weight layers.

A zero-cost proxy scores an untrained network from at most one minibatch, in a fraction of the
time a trained child costs (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
Mellor et al., "Neural Architecture Search without Training", ICML 2021). Each proxy lives in a
module of its own and registers itself here with `register_proxy`, like the ops
(`nas.ops.primitives.register_op`); a taken name is refused (`nas.registry.add`).

A proxy is called on a fresh copy of the network (it may change weights, modes and dtypes) and a
`Minibatch`; higher scores mean "predicted better" for every proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from nas.registry import add


@dataclass(frozen=True)
class Minibatch:
    """Normalized float32 images (B, 3, H, W) and their int64 labels, on one device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, n: int) -> Minibatch:
        """The first ``n`` images (a proxy whose paper used a smaller batch than the one loaded)."""
        return Minibatch(self.images[:n], self.labels[:n])


ProxyFn = Callable[[nn.Module, Minibatch], float]


@dataclass(frozen=True)
class Proxy:
    """A registered proxy: its function, the batch size its paper used (0: needs no data), a citation."""

    name: str
    fn: ProxyFn
    batch_size: int
    paper: str


PROXIES: dict[str, Proxy] = {}


def register_proxy(name: str, *, batch_size: int, paper: str) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator: register ``fn`` as proxy ``name``; a second registration of a name is an error."""

    def decorate(fn: ProxyFn) -> ProxyFn:
        add(PROXIES, "proxy", name, Proxy(name, fn, batch_size, paper))
        return fn

    return decorate


def logits(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The class scores of a forward pass, whatever the network returns (`NetworkOutput`, a
    tensor, or NAS-Bench-201's reference ``(features, logits)``)."""
    out = net(images)
    if isinstance(out, torch.Tensor):
        return out
    found = getattr(out, "logits", None)
    if isinstance(found, torch.Tensor):
        return found
    if isinstance(out, tuple) and isinstance(out[-1], torch.Tensor):
        return out[-1]
    raise TypeError(f"cannot find logits in a {type(out).__name__}")


def weight_layers(net: nn.Module) -> Iterator[nn.Conv2d | nn.Linear]:
    """Convolutions and linear layers: the layers zero-cost-nas's per-weight measures sum over
    (`foresight/pruners/p_utils.py`, ``get_layer_metric_array``); BN's affine weights are left out."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            yield module


def weight_sum(net: nn.Module, metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """Sum over `weight_layers` of ``metric(weight, weight.grad)``; a layer without a gradient (off
    every path to the logits) contributes 0, as in the reference."""
    total = torch.zeros((), dtype=torch.float64)
    for layer in weight_layers(net):
        if layer.weight.grad is not None:
            total += metric(layer.weight.detach(), layer.weight.grad).double().sum().cpu()
    return float(total)
