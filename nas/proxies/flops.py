"""flops: the mult-adds of one forward pass of one image, the other cost baseline.

Abdelfattah et al., ICLR 2021 report FLOPs beside the proxies; counted as `nas show` counts
(`nas.model.counting.count_mult_adds`: torch's FlopCounterMode halved to multiply-adds, eval mode).
"""

from __future__ import annotations

from torch import nn

from nas.model.counting import count_mult_adds
from nas.proxies.base import Minibatch, register_proxy


@register_proxy("flops", batch_size=0, paper="baseline (Abdelfattah et al. ICLR 2021)")
def flops(net: nn.Module, batch: Minibatch) -> float:
    return float(count_mult_adds(net, int(batch.images.shape[-1]), in_channels=int(batch.images.shape[1])))
