"""synflow: the synaptic flow of the network with every parameter made positive, on an input of ones.

Tanaka et al., "Pruning neural networks without any data by iteratively conserving synaptic flow",
NeurIPS 2020; as a NAS proxy in Abdelfattah et al., ICLR 2021 (zero-cost-nas
``foresight/pruners/measures/synflow.py``): parameters replaced by their absolute values, the
network in double precision (products over 10-20 cells overflow float32), one input of ones,
R = sum of the logits, score = sum over Conv2d/Linear weights of |theta * dR/dtheta|. No data.

Deviation: the reference rebuilds the network without batch norm (``bn=False``); here batch norm
stays, in eval mode with its fresh running statistics (mean 0, variance 1), which makes it the
positive affine map x / sqrt(1 + eps) * |gamma| + |beta|: the same flow up to a constant factor
per layer, without a second network class per space.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.proxies.base import Minibatch, logits, register_proxy, weight_sum


@register_proxy("synflow", batch_size=0, paper="Tanaka et al. NeurIPS 2020; Abdelfattah et al. ICLR 2021")
def synflow(net: nn.Module, batch: Minibatch) -> float:
    net.double().eval()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    net.zero_grad()
    ones = torch.ones((1, *batch.images.shape[1:]), dtype=torch.float64, device=batch.images.device)
    torch.autograd.backward(logits(net, ones).sum())
    return weight_sum(net, lambda weight, grad: (weight * grad).abs())
