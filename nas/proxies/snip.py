"""snip: connection sensitivity, sum |theta * dL/dtheta| over the weights of the loss on a minibatch.

Lee et al., "SNIP: Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019, as a
network-level proxy in Abdelfattah et al., ICLR 2021 (zero-cost-nas
``foresight/pruners/measures/snip.py``): the reference multiplies each Conv2d/Linear weight by a
mask of ones and takes |dL/dmask|, which is |theta * dL/dtheta|; computed directly here (same value).
Cross-entropy, batch of 64, batch norm in training mode, as there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.proxies.base import Minibatch, logits, register_proxy, weight_sum


@register_proxy("snip", batch_size=64, paper="Lee et al. ICLR 2019; Abdelfattah et al. ICLR 2021")
def snip(net: nn.Module, batch: Minibatch) -> float:
    net.train()
    net.zero_grad()
    torch.autograd.backward(F.cross_entropy(logits(net, batch.images), batch.labels))
    return weight_sum(net, lambda weight, grad: (weight * grad).abs())
