"""naswot: log |K_H|, how differently the ReLUs of an untrained network split a minibatch.

Mellor et al., "Neural Architecture Search without Training", ICML 2021 (the updated version of
arXiv:2006.04647; BayesWatch/nas-without-training ``score_networks.py --score hook_logdet``): each
image's binary code is whether each ReLU's input is positive; K_H[i, j] = N_A - d_H(c_i, c_j), the
number of units on which images i and j agree, summed over every ReLU; the score is log|K_H|
(slogdet). Batch of 128, batch norm in training mode, one forward pass, as the paper's runs
(``scorehook.sh``).

Deviations: the reference counts only ReLUs its backward pass reached (``visited_backwards``); here
every ``nn.ReLU`` that runs in the forward pass counts (in our networks each one lies on a path to
the logits). K_H + I is the matrix taken (a unit ridge, next to diagonal entries of N_A ~ 10^4-10^6):
two images with identical codes (a cell of only 'none' edges zeroes everything after it) make K_H
singular, log 0 = -inf in the reference, and a finite lowest rank here.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.proxies.base import Minibatch, register_proxy


@register_proxy("naswot", batch_size=128, paper="Mellor et al. ICML 2021")
def naswot(net: nn.Module, batch: Minibatch) -> float:
    n = len(batch)
    agree = torch.zeros((n, n), dtype=torch.float64)

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        # The input after an in-place ReLU is its output; relu(x) > 0 exactly where x > 0.
        codes = (inputs[0].detach().reshape(n, -1) > 0).float()
        ones = codes @ codes.T  # units where both are positive
        active = codes.sum(dim=1)
        # where both are off: D - s_i - s_j + ones[i, j]; agreement = both on + both off
        agree.add_((2 * ones - active[:, None] - active[None, :] + codes.shape[1]).double().cpu())

    net.train()
    handles = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(batch.images)
    finally:
        for handle in handles:
            handle.remove()
    _, logdet = torch.linalg.slogdet(agree + torch.eye(n, dtype=torch.float64))
    return float(logdet)
