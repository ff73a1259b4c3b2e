"""Parameter and mult-add counts, the two costs NAS papers report for a network.

Mult-adds come from torch's own `FlopCounterMode`, which counts 2 FLOPs per multiply-add
(convolutions, matmuls); papers report multiply-adds, so we halve it. Like the papers, counts
exclude the auxiliary head, which only exists at training time.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def _aux_params(model: nn.Module) -> set[int]:
    aux = getattr(model, "aux_head", None)
    return {id(p) for p in aux.parameters()} if isinstance(aux, nn.Module) else set()


def count_params(model: nn.Module, *, include_aux: bool = False) -> int:
    """Trainable parameters; the auxiliary head is left out unless ``include_aux``."""
    skip = set() if include_aux else _aux_params(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in skip)


def count_mult_adds(model: nn.Module, image_size: int, *, in_channels: int = 3) -> int:
    """Multiply-adds of one forward pass of a single image, in eval mode (no aux head)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, in_channels, image_size, image_size, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2
