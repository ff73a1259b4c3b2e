"""Off-path weights of a supernet are stepped with a zero gradient (ENAS's L2 covers all weights)."""

from __future__ import annotations

import torch
from torch import nn

from nas.train.loop import optimizer_step


def _step(keep_zero_grads: bool) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    used, unused = nn.Linear(2, 1), nn.Linear(2, 1)
    model = nn.ModuleList([used, unused])
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    before = unused.weight.detach().clone()
    for _ in range(2):
        optimizer_step(
            used(torch.ones(1, 2)).sum(), opt, model, grad_clip=None, keep_zero_grads=keep_zero_grads
        )
    return before, unused.weight.detach()


def test_unused_weights_decay_every_step() -> None:
    before, after = _step(keep_zero_grads=True)
    assert not torch.equal(before, after) and after.abs().sum() < before.abs().sum()


def test_dropped_grads_leave_unused_weights_alone() -> None:
    before, after = _step(keep_zero_grads=False)
    assert torch.equal(before, after)
