"""grad_norm: the sum over layers of the L2 norm of the loss gradient of each layer's weights.

Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Sec. 3 (``grad_norm``;
zero-cost-nas ``foresight/pruners/measures/grad_norm.py``): cross-entropy on one minibatch of 64,
batch norm in training mode (batch statistics), the per-layer norms of the Conv2d and Linear weight
gradients summed. Same here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.proxies.base import Minibatch, logits, register_proxy, weight_sum


@register_proxy("grad_norm", batch_size=64, paper="Abdelfattah et al. ICLR 2021")
def grad_norm(net: nn.Module, batch: Minibatch) -> float:
    net.train()
    net.zero_grad()
    torch.autograd.backward(F.cross_entropy(logits(net, batch.images), batch.labels))
    return weight_sum(net, lambda _, grad: grad.norm())
