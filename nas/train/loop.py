"""The one training loop: an epoch of SGD steps and a top-k evaluation.

The child trainer (`nas.train.trainer`), the transfer workers (`nas.transfer.ray_train`) and the
weight-sharing supernet all train with these functions, so a fix to the step (autocast, clipping,
divergence checks) reaches every one of them. What differs between them stays with the caller: where
the batches come from (on-device CIFAR batches, ImageFolder loaders, one shard per DDP rank), the
optimizer and schedule, and what is reported after an epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas.model.network import NetworkOutput

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]

CUDA_CHECK_EVERY = 32
"""Steps between divergence checks on CUDA, where each check is a host sync (on the CPU: every step)."""


class NonFiniteLossError(ArithmeticError):
    """The training loss became NaN or infinite: the network diverged."""


def autocast(device: torch.device, enabled: bool) -> AbstractContextManager[Any]:
    """bf16 autocast on ``device`` when ``enabled`` (the callers enable it on CUDA only)."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()


def network_loss(
    out: NetworkOutput, labels: torch.Tensor, *, label_smoothing: float, aux_weight: float
) -> torch.Tensor:
    """Cross-entropy (label-smoothed if asked) plus the auxiliary head's, weighted (NASNet: 0.4)."""
    loss = F.cross_entropy(out.logits, labels, label_smoothing=label_smoothing)
    if out.aux_logits is not None and aux_weight > 0:
        loss = loss + aux_weight * F.cross_entropy(out.aux_logits, labels, label_smoothing=label_smoothing)
    return loss


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    *,
    grad_clip: float | None,
    keep_zero_grads: bool = False,
) -> None:
    """One step: fresh gradients of ``loss``, their norm clipped to ``grad_clip``, the update
    (`LossSettings.keep_zero_grads`: unused parameters are stepped with a zero gradient)."""
    optimizer.zero_grad(set_to_none=not keep_zero_grads)
    torch.autograd.backward(loss)
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def check_finite(loss_sum: torch.Tensor, step: int) -> None:
    # A NaN or inf in any step's loss survives in the running sum, so checking the sum every k steps
    # catches divergence at most k steps late without a host sync per step.
    if not torch.isfinite(loss_sum):
        raise NonFiniteLossError(f"non-finite loss ({float(loss_sum)}) by step {step}: the network diverged")


@dataclass(frozen=True)
class LossSettings:
    """What the loss and the step need besides the batch: the recipe's regularisers."""

    label_smoothing: float = 0.0
    aux_weight: float = 0.0
    grad_clip: float | None = None
    keep_zero_grads: bool = False
    """Zero the gradients in place instead of dropping them, so a parameter the step did not use (an
    off-path op of a supernet) is still stepped: weight decay and momentum move every parameter every
    step, as ENAS's L2 term over all weights did. With dropped (None) gradients SGD skips such a
    parameter, and its momentum buffer, frozen since it was last on the path, is applied undecayed
    the next time it is."""


@dataclass
class EpochStats:
    """One epoch's totals; ``loss_sum``/``correct`` stay on the device until read (one host sync)."""

    steps: int
    images: int
    seconds: float
    loss_sum: torch.Tensor
    correct: torch.Tensor

    @property
    def train_loss(self) -> float:
        return float(self.loss_sum) / max(self.steps, 1)

    @property
    def train_accuracy(self) -> float:
        return int(self.correct) / max(self.images, 1)


def train_epoch(
    net: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    *,
    device: torch.device,
    amp: bool,
    loss: LossSettings,
    first_step: int = 0,
    params_of: nn.Module | None = None,
) -> EpochStats:
    """Train ``net`` for one pass over ``batches``; raise `NonFiniteLossError` if the loss diverges.

    ``net`` is what is called (a compiled or DDP-wrapped module); ``params_of`` is the plain module
    whose gradients are clipped (default ``net``). ``first_step`` numbers the steps across epochs
    for the divergence message; the loss is checked every `CUDA_CHECK_EVERY` steps on CUDA (each check
    is a host sync), every step on the CPU, and once at the end, which also makes the timing honest.
    """
    check_every = CUDA_CHECK_EVERY if device.type == "cuda" else 1
    net.train()
    started = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    steps = images = 0
    for x, y in batches:
        with autocast(device, amp):
            out = net(x)
            batch_loss = network_loss(
                out, y, label_smoothing=loss.label_smoothing, aux_weight=loss.aux_weight
            )
        optimizer_step(
            batch_loss,
            optimizer,
            params_of or net,
            grad_clip=loss.grad_clip,
            keep_zero_grads=loss.keep_zero_grads,
        )
        if scheduler is not None:
            scheduler.step()
        loss_sum += batch_loss.detach().float()
        correct += (out.logits.detach().argmax(dim=1) == y).sum()
        steps += 1
        images += len(y)
        if (first_step + steps) % check_every == 0:
            check_finite(loss_sum, first_step + steps)
    check_finite(loss_sum, first_step + steps)
    return EpochStats(steps, images, time.perf_counter() - started, loss_sum, correct)


def topk_counts(
    net: nn.Module,
    batches: Batches,
    *,
    device: torch.device,
    amp: bool,
    topk: Sequence[int],
    loss: Callable[..., torch.Tensor] | None = None,
) -> torch.Tensor:
    """Hits at each k of ``topk``, then the number of images, as one float64 tensor on ``device``;
    with ``loss`` (e.g. ``F.cross_entropy``, called with ``reduction="sum"``), its sum last.

    Counts rather than accuracies, so data-parallel workers can sum them with one all-reduce. The
    network is put in eval mode (and back) and runs without autograd.
    """
    was_training = net.training
    net.eval()
    n = len(topk)
    counts = torch.zeros(n + 1 + (loss is not None), dtype=torch.float64, device=device)
    with torch.inference_mode(), autocast(device, amp):
        for x, y in batches:
            logits: torch.Tensor = net(x).logits
            top = logits.topk(min(max(topk), logits.shape[1]), dim=1).indices
            hits = top == y.view(-1, 1)
            for i, k in enumerate(topk):
                counts[i] += hits[:, :k].any(dim=1).sum()
            counts[n] += len(y)
            if loss is not None:
                counts[n + 1] += loss(logits.float(), y, reduction="sum")
    net.train(was_training)
    return counts
