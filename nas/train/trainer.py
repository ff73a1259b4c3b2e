"""Train one child network: the search's reward, and the final evaluation of a found cell.

A search trains hundreds of children in one process (NASNet ran 450 at once; Zoph et al. 2018,
Sec. 4), so a child that diverges, crashes or runs out of memory must not take the search down:
`train_child` turns every such failure into a `ChildResult` with ``status="failed"`` and the reason,
and frees the child's memory so the next one can run. Two things are not failures and propagate:
an exception from the ``report`` callback (that is how a scheduler such as Ray Tune stops a trial
early) and ``KeyboardInterrupt``. Children over a size budget are ``rejected`` before training.

The recipe is the NASNet/DARTS one: SGD with (Nesterov) momentum, cosine learning rate per step,
weight decay, gradient-norm clipping, ScheduledDropPath (drop probability rising linearly over the
epochs), an auxiliary head's loss weighted by ``aux_weight``, optional label smoothing and cutout.
On CUDA it adds what makes small networks fast there: bf16 autocast, channels_last, cudnn
autotuning, the data resident on the GPU (`nas.train.data.AugmentedBatches`) and, behind a flag,
``torch.compile``.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import logging
import math
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import ConfigError, describe
from nas.model.build import AnyNetwork, build_any_network
from nas.model.checkpoint import network_state
from nas.model.counting import count_mult_adds, count_params
from nas.model.network import NetworkConfig
from nas.results.trial import TrialStatus, score_of
from nas.space.protocol import GenotypeLike
from nas.train.data import IMAGE_SHAPE, AugmentedBatches, CifarData, Split, normalize
from nas.train.loop import LossSettings, topk_counts, train_epoch
from nas.train.recipes import Recipe

logger = logging.getLogger(__name__)

CPU_CHANNELS_LAST = True
"""channels_last on the CPU too: 1.42x the NCHW throughput for the search's proxy child (335 vs 235
images/s, ``bench/child_training.py``, 2 cores). oneDNN's AVX2 kernel for the weight gradient of a
strided 1x1 convolution hangs or crashes on channels_last inputs with few channels (torch 2.14.1, CPUs
without AVX-512); every op routes those convolutions around it (`nas.ops.conv.Conv2d`)."""

_EVAL_BATCH = 1000


class Reporter(Protocol):
    """Called after every epoch. Whatever it raises propagates: that is how a scheduler stops a trial."""

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> None: ...


@dataclass(frozen=True)
class TrainConfig(Recipe):
    """How to train a child. Defaults are a short search proxy, not the papers' final schedule.

    ``max_steps`` caps the optimizer steps (the cosine schedule then ends there). ``train_size`` and
    ``val_size`` use only the first images of the given splits (they are shuffled, so a seeded
    random subset). ``channels_last=None`` means: on for CUDA, `CPU_CHANNELS_LAST` on the CPU.
    ``amp`` (bf16 autocast) applies on CUDA only, and is off by default because for the small
    NASNet children a search trains it costs more than it saves: on an H200 (`bench/gpu_check.sh`'s
    probe), N=2, C=32, batch 128 trains at 3,800 images/s in fp32
    channels_last and 2,030 with bf16 autocast; N=1, C=8, batch 256 at 11,080 (fp32) vs 8,910 (bf16).
    The many small depthwise and 1x1 convolutions of a cell are launch-bound, and autocast adds a cast
    per op. Large transfer networks keep bf16 (`nas.transfer.ray_train`).
    """

    max_steps: int | None = None
    nesterov: bool = True
    device: str = "auto"
    amp: bool = False  # bf16 autocast; off by default: slower for NASNet children (see below)
    channels_last: bool | None = None
    compile: bool = False
    max_params: int | None = None
    max_mult_adds: int | None = None
    train_size: int | None = None
    val_size: int | None = None
    crn: bool = True  # common random numbers: every child of a search trains with ``seed`` itself

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or (self.max_steps is not None and self.max_steps < 1):
            raise ConfigError("epochs, batch_size and max_steps must be at least 1")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device: expected auto, cpu or cuda, got {self.device!r}")
        if not 0.0 <= self.drop_path_prob < 1.0 or self.lr <= 0.0:
            raise ConfigError("drop_path_prob must be in [0, 1) and lr positive")

    def for_trial(self, trial_id: str) -> TrainConfig:
        """This config for child ``trial_id`` of a search: itself under common random numbers, else with
        a seed of the child's own drawn from (``seed``, ``trial_id``).

        Common random numbers (CRN; Law & Kelton, "Simulation modeling and analysis", ch. 11) let
        children differ by their cells rather than by their luck. With one seed every child shares
        the split, the order of the training images and every crop, flip and cutout square (the
        loader's generator draws the same numbers whatever the network). The initial weights share the
        seed but not the values: the global stream is consumed in construction order, parameter shape
        by shape, so only the stem (built first) starts equal; from the first cell on, draws depend on
        the cell's ops. Without CRN each child also has its own data order and augmentation, which
        is what `bench/proxy_fidelity.py` compares against.
        """
        if self.crn:
            return self
        digest = hashlib.blake2b(f"{self.seed}/{trial_id}".encode(), digest_size=4).digest()
        return replace(self, seed=int.from_bytes(digest, "little"))


@dataclass(frozen=True)
class ChildResult:
    """The outcome of one child. ``val_accuracy`` is the best epoch's (the reward); all in [0, 1].

    ``val_loss`` is the best epoch's mean validation cross-entropy and ``train_loss_sum`` the sum of
    the minibatch training losses over the whole run, so a child can also be scored by either (see
    `score`). ``images_per_s`` counts training steps only; ``split`` is the data's seed and sizes as used
    (`nas.train.data.CifarData.summary`); ``params`` exclude the auxiliary head, as the papers count them.
    A failed child keeps what it reached before failing.
    """

    status: TrialStatus
    val_accuracy: float | None = None
    final_val_accuracy: float | None = None
    val_accuracy_history: tuple[float, ...] = ()
    test_accuracy: float | None = None
    epochs_done: int = 0
    steps_done: int = 0
    wall_s: float = 0.0
    images_per_s: float | None = None
    params: int | None = None
    mult_adds: int | None = None
    error: str | None = None
    split: dict[str, int] = field(default_factory=dict)
    val_loss: float | None = None
    val_loss_history: tuple[float, ...] = ()
    train_loss_sum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["val_accuracy_history"] = list(self.val_accuracy_history)
        out["val_loss_history"] = list(self.val_loss_history)
        return out

    def score(self, by: str = "val_accuracy") -> float | None:
        """The child's score by ``by`` (``--score``), higher is better, by the search's one rule,
        `nas.results.trial.score_of`: the validation accuracy, or exp(-loss) of the validation loss or
        of the mean training loss. None when the child got no such figure."""
        return score_of(
            by,
            val_accuracy=self.val_accuracy,
            val_loss=self.val_loss,
            train_loss_sum=self.train_loss_sum,
            steps=self.steps_done,
        )


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else the CPU; asking for CUDA without it is a `ConfigError`."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but torch sees no CUDA device")
    return torch.device(name)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = _EVAL_BATCH,
    channels_last: bool = False,
    amp: bool = False,
) -> tuple[float, float]:
    """Top-1 accuracy and mean cross-entropy of ``model`` (eval mode, no autograd); one host sync."""
    batches = (
        (
            normalize(images[start : start + batch_size], channels_last=channels_last),
            labels[start : start + batch_size],
        )
        for start in range(0, len(labels), batch_size)
    )
    counts = topk_counts(model, batches, device=labels.device, amp=amp, topk=(1,), loss=F.cross_entropy)
    hits, total, loss_sum = (float(c) for c in counts)
    return hits / max(total, 1.0), loss_sum / max(total, 1.0)


def train_child(
    genotype: GenotypeLike,
    network_config: NetworkConfig,
    train_config: TrainConfig,
    data: CifarData,
    report: Reporter | None = None,
    *,
    checkpoint: Path | None = None,
) -> ChildResult:
    """Build the CIFAR network of ``genotype`` and train it; never raises for the child's own failures.

    The test split is evaluated after training only when ``data`` carries one (a search loads data
    without it). ``checkpoint``: where to save the trained network (`nas.model.checkpoint.network_state`: weights on
    the CPU with the genotype and config that rebuild it), if anywhere.
    Configuration errors (bad sizes, CUDA requested without one) raise `ConfigError` before any work.
    """
    cfg = train_config
    device = resolve_device(cfg.device)
    train = _head(data.train, cfg.train_size, "train_size")
    val = _head(data.val, cfg.val_size, "val_size")
    if cfg.batch_size > len(train):
        raise ConfigError(f"batch_size: {cfg.batch_size} exceeds the {len(train)} training images")
    started = time.perf_counter()
    progress = _Progress(split=data.summary() | {"train_size": len(train), "val_size": len(val)})
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)  # weight init, drop path and dropout; the loader has its own stream
        try:
            model = build_any_network(genotype, network_config)
            progress.params = count_params(model)
            progress.mult_adds = count_mult_adds(model, IMAGE_SHAPE[1])
        except Exception as exc:
            return progress.result("failed", started, error=describe(exc))
        rejection = _over_budget(cfg, progress.params, progress.mult_adds)
        if rejection is not None:
            logger.info("child rejected: %s", rejection)
            return progress.result("rejected", started, error=rejection)
        epochs = _train(model, cfg, train, val, data.test, device, progress, checkpoint, genotype)
        try:
            while (metrics := _next_or_failure(epochs, progress)) is not None:
                if report is not None:
                    report(progress.epochs_done, metrics)
        finally:
            epochs.close()
            del epochs, model
            _release_memory(device)
    status: TrialStatus = "failed" if progress.error is not None else "completed"
    return progress.result(status, started, error=progress.error)


@dataclass
class _Progress:
    """What a child has achieved so far; survives its failure so a failed result keeps it."""

    split: dict[str, int]
    params: int | None = None
    mult_adds: int | None = None
    history: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    train_loss_sum: float = 0.0
    steps: int = 0
    images: int = 0
    train_s: float = 0.0
    test_accuracy: float | None = None
    error: str | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def result(self, status: TrialStatus, started: float, *, error: str | None = None) -> ChildResult:
        return ChildResult(
            status=status,
            val_accuracy=max(self.history) if self.history else None,
            final_val_accuracy=self.history[-1] if self.history else None,
            val_accuracy_history=tuple(self.history),
            test_accuracy=self.test_accuracy,
            epochs_done=self.epochs_done,
            steps_done=self.steps,
            wall_s=time.perf_counter() - started,
            images_per_s=self.images / self.train_s if self.train_s > 0 else None,
            params=self.params,
            mult_adds=self.mult_adds,
            error=error,
            split=self.split,
            val_loss=min(self.val_losses) if self.val_losses else None,
            val_loss_history=tuple(self.val_losses),
            train_loss_sum=self.train_loss_sum if self.steps else None,
        )


def _next_or_failure(epochs: Iterator[dict[str, float]], progress: _Progress) -> dict[str, float] | None:
    """The next epoch's metrics; None when training ended, recording why if it failed."""
    try:
        return next(epochs, None)
    except Exception as exc:  # the child's own failure is data: diverged, crashed, out of memory
        progress.error = describe(exc)
        logger.warning("child failed after %d epochs: %s", progress.epochs_done, progress.error)
        return None


def _train(
    model: AnyNetwork,
    cfg: TrainConfig,
    train: Split,
    val: Split,
    test: Split | None,
    device: torch.device,
    progress: _Progress,
    checkpoint: Path | None,
    genotype: GenotypeLike,
) -> Generator[dict[str, float], None, None]:
    """Train epoch by epoch, yielding each epoch's metrics; a generator so that each epoch's work
    runs inside the caller's failure guard while the caller's ``report`` stays outside it (moving
    the data to the device included: it may run out of memory too)."""
    train, val = train.to(device), val.to(device)
    test = test.to(device) if test is not None else None
    on_cuda = device.type == "cuda"
    channels_last = cfg.channels_last if cfg.channels_last is not None else (on_cuda or CPU_CHANNELS_LAST)
    amp = cfg.amp and on_cuda
    if on_cuda:
        torch.backends.cudnn.benchmark = True
    model.to(device).to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    net = cast(nn.Module, torch.compile(model)) if cfg.compile else model  # an nn.Module at runtime
    batches = AugmentedBatches(
        train,
        batch_size=cfg.batch_size,
        generator=torch.Generator(device).manual_seed(cfg.seed),
        cutout=cfg.cutout,
        channels_last=channels_last,
    )
    total_steps = (
        len(batches) * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, len(batches) * cfg.epochs)
    )
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    loss = LossSettings(
        label_smoothing=cfg.label_smoothing, aux_weight=cfg.aux_weight, grad_clip=cfg.grad_clip
    )
    for epoch in range(math.ceil(total_steps / len(batches))):
        model.set_drop_path_prob(cfg.drop_path_prob * epoch / cfg.epochs)  # ScheduledDropPath
        lr = float(schedule.get_last_lr()[0])
        stats = train_epoch(
            net,
            itertools.islice(batches, total_steps - progress.steps),
            optimizer,
            schedule,
            device=device,
            amp=amp,
            loss=loss,
            first_step=progress.steps,
            params_of=model,
        )
        progress.steps += stats.steps
        progress.images += stats.images
        progress.train_s += stats.seconds
        progress.train_loss_sum += float(stats.loss_sum)
        val_accuracy, val_loss = evaluate(net, val.images, val.labels, channels_last=channels_last, amp=amp)
        progress.history.append(val_accuracy)
        progress.val_losses.append(val_loss)
        metrics = {
            "val_accuracy": val_accuracy,
            "best_val_accuracy": max(progress.history),  # the child's reward so far (ChildResult's)
            "val_loss": val_loss,
            "best_val_loss": min(progress.val_losses),
            "train_loss_sum": progress.train_loss_sum,
            "train_loss": stats.train_loss,
            "train_accuracy": stats.train_accuracy,
            "images_per_s": stats.images / stats.seconds,
            "lr": lr,
            "steps": float(progress.steps),
        }
        logger.info("epoch %d: %s", progress.epochs_done, metrics)
        yield metrics
    if test is not None:
        progress.test_accuracy, _ = evaluate(
            net, test.images, test.labels, channels_last=channels_last, amp=amp
        )
    if checkpoint is not None:
        torch.save(network_state(model, genotype), checkpoint)


def _head(split: Split, n: int | None, name: str) -> Split:
    if n is None:
        return split
    if not 1 <= n <= len(split):
        raise ConfigError(f"{name}: {n} out of range 1..{len(split)} (the images loaded)")
    return Split(split.images[:n], split.labels[:n])


def _over_budget(cfg: TrainConfig, params: int | None, mult_adds: int | None) -> str | None:
    if cfg.max_params is not None and params is not None and params > cfg.max_params:
        return f"{params:,} parameters exceed max_params={cfg.max_params:,}"
    if cfg.max_mult_adds is not None and mult_adds is not None and mult_adds > cfg.max_mult_adds:
        return f"{mult_adds:,} mult-adds exceed max_mult_adds={cfg.max_mult_adds:,}"
    return None


def _release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        gc.collect()  # tensors held by reference cycles (e.g. a caught exception's frames) first
        torch.cuda.empty_cache()
