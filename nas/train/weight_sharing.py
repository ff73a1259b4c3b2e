"""Shared-weight training of the supernet, ENAS's loop (Pham et al. 2018, arXiv 1802.03268, Sec. 2.2).

Each epoch alternates the two phases of ENAS:

(a) one epoch of SGD on the shared weights (`nas.model.supernet.SuperNetwork`), one architecture per
    minibatch drawn from ``sample_path`` (the searcher's current distribution, see
    `nas.search.weight_sharing`);
(b) ``controller_steps`` searcher steps of ``archs_per_step`` architectures: ``ask`` them, reward
    each with its accuracy on one random ``reward_batch``-image validation minibatch under the shared
    weights, ``tell`` them. ENAS's released code: 30 steps x 10 architectures, 160 images.

Any searcher of the contract fits (`nas.searcher.base.Searcher`; its `path_sampler` hook draws phase
(a)'s paths); `nas.train` never imports Ray, W&B or a concrete searcher.
The step is the one training loop's (`nas.train.loop.train_epoch`, with the trainer's
``evaluate``) and its on-device augmented batches (`nas.train.data.AugmentedBatches`).

A non-finite loss or weight ends the run with `SupernetDivergedError` naming the epoch: a search on
garbage weights would rank architectures by noise and still look like a result.

Deviation: the learning rate follows one cosine over all epochs, not ENAS's warm restarts
(``lr_T_0=10, lr_T_mul=2``); a short search would otherwise end mid-cycle.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from nas.errors import ConfigError, NasError
from nas.model.supernet import SuperNetwork
from nas.results.trial import TrialResult
from nas.searcher.base import Searcher
from nas.space.protocol import GenotypeLike
from nas.train.data import AugmentedBatches, CifarData, Split
from nas.train.loop import LossSettings, NonFiniteLossError, train_epoch
from nas.train.trainer import CPU_CHANNELS_LAST, evaluate

logger = logging.getLogger(__name__)

R = TypeVar("R")


class SupernetDivergedError(NasError):
    """The shared weights (or the loss) became NaN or infinite: the search stops, naming the epoch."""


@dataclass(frozen=True)
class SharedTrainingConfig:
    """ENAS's loop sizes (defaults: its released CIFAR-10 micro search) and the SGD of the shared weights."""

    epochs: int = 150
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    controller_steps: int = 30
    archs_per_step: int = 10
    reward_batch: int = 160
    seed: int = 0
    channels_last: bool | None = None  # None: on for CUDA, `CPU_CHANNELS_LAST` on the CPU
    score_workers: int = 1  # CPU threads scoring architectures side by side (`SharedWeightTraining.map`)

    def __post_init__(self) -> None:
        sizes = (self.epochs, self.batch_size, self.controller_steps, self.archs_per_step, self.reward_batch)
        if min(*sizes, self.score_workers) < 1 or self.lr <= 0:
            raise ConfigError(
                "epochs, batch_size, controller_steps, archs_per_step, reward_batch, score_workers must be "
                ">= 1, lr > 0"
            )


@dataclass(frozen=True)
class ScoredArch:
    """One architecture rewarded with shared weights: its accuracy on ``images`` validation images."""

    trial_id: str
    genotype: GenotypeLike
    accuracy: float
    images: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "genotype": self.genotype.to_dict(),
            "accuracy": self.accuracy,
            "images": self.images,
        }


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did: phase (a)'s loss and accuracy, phase (b)'s rewards."""

    epoch: int
    train_loss: float
    train_accuracy: float
    lr: float
    mean_reward: float
    max_reward: float
    train_s: float
    search_s: float
    scored: list[ScoredArch] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "lr": self.lr,
            "mean_reward": self.mean_reward,
            "max_reward": self.max_reward,
            "train_s": self.train_s,
            "search_s": self.search_s,
        }


class SharedWeightTraining:
    """The supernet, its optimizer, schedule and data streams; `run_epoch` is one ENAS epoch.

    `state_dict` holds only tensors and plain data (loadable with ``weights_only=True``): resuming
    from it continues the same streams of batches and reward minibatches.
    """

    def __init__(
        self, supernet: SuperNetwork, data: CifarData, cfg: SharedTrainingConfig, device: torch.device
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.epoch = 0
        on_cuda = device.type == "cuda"
        self.channels_last = (
            cfg.channels_last if cfg.channels_last is not None else (on_cuda or CPU_CHANNELS_LAST)
        )
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        self.supernet = supernet.to(device).to(memory_format=layout)
        self.train_split, self.val = data.train.to(device), data.val.to(device)
        if cfg.reward_batch > len(self.val):
            raise ConfigError(
                f"reward_batch: {cfg.reward_batch} exceeds the {len(self.val)} validation images"
            )
        self.batches = AugmentedBatches(
            self.train_split,
            batch_size=cfg.batch_size,
            generator=torch.Generator(device).manual_seed(cfg.seed),
            channels_last=self.channels_last,
        )
        self.reward_generator = torch.Generator(device).manual_seed(cfg.seed + 1)
        self.optimizer = torch.optim.SGD(
            self.supernet.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
        for p in self.supernet.parameters():  # every weight is stepped from the first step on
            p.grad = torch.zeros_like(p)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=len(self.batches) * cfg.epochs
        )

    def train_epoch(self, sample_path: Callable[[], GenotypeLike]) -> tuple[float, float, float]:
        """Phase (a): one SGD step per minibatch on the path of a freshly sampled architecture.

        Returns (mean loss, accuracy, seconds). Parameters off the path get a zero loss gradient but
        are still stepped: weight decay and momentum move every shared weight every step, as in ENAS,
        whose L2 term covers all the shared weights (``child_l2_reg`` over every variable), not only
        the sampled child's.
        """
        try:
            stats = train_epoch(
                _SampledPaths(self.supernet, sample_path),
                self.batches,
                self.optimizer,
                self.schedule,
                device=self.device,
                amp=False,
                loss=LossSettings(grad_clip=self.cfg.grad_clip, keep_zero_grads=True),
                params_of=self.supernet,
            )
        except NonFiniteLossError:
            stats = None
        self._check_finite(torch.tensor(math.nan) if stats is None else stats.loss_sum)
        assert stats is not None
        return stats.train_loss, stats.train_accuracy, stats.seconds

    def reward_split(self) -> Split:
        """ENAS's reward minibatch: ``reward_batch`` random validation images (the next draw of the
        reward stream, so a resumed stage draws the same ones)."""
        idx = torch.randperm(len(self.val), generator=self.reward_generator, device=self.device)
        idx = idx[: self.cfg.reward_batch]
        return Split(self.val.images[idx], self.val.labels[idx])

    def reward(self, genotype: GenotypeLike) -> float:
        """ENAS's reward: accuracy on one random validation minibatch under the shared weights."""
        return self.score(genotype, self.reward_split())

    def score(self, genotype: GenotypeLike, split: Split | None = None) -> float:
        """Accuracy of ``genotype``'s path on ``split`` (default: the whole validation split)."""
        split = self.val if split is None else split
        child = self.supernet.child(genotype)
        return evaluate(
            child,
            split.images,
            split.labels,
            batch_size=max(self.cfg.reward_batch, 256),
            channels_last=self.channels_last,
        )[0]

    def score_first(self, genotype: GenotypeLike, images: int) -> float:
        """Accuracy of ``genotype``'s path on the first ``images`` validation images (a fixed order:
        every architecture scored on ``images`` sees the same ones, `nas.search.halving`)."""
        return self.score(genotype, Split(self.val.images[:images], self.val.labels[:images]))

    def map(self, fn: Callable[..., R], *items: Iterable[Any]) -> Iterator[R]:
        """The builtin ``map(fn, *items)``, results in order, on ``score_workers`` threads on the CPU.

        Deviation (engineering, not ENAS's): an architecture's score is hundreds of small ops on one
        minibatch, too small to split across torch's intra-op threads (two were no faster than one on
        this project's 2 cores), so each worker thread scores whole architectures on one intra-op
        thread; 1.5x on 2 idle cores (`bench/weight_sharing.py --cost-only`). Scores are
        unchanged: a path's score depends only on its weights and its images (batch statistics are
        each batch's own, `nas.model.supernet`), and ``fn`` is called with the same items.
        """
        if self.cfg.score_workers == 1 or self.device.type == "cuda":
            yield from map(fn, *items)
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the pool's threads, started below, take this count
        try:
            with ThreadPoolExecutor(self.cfg.score_workers) as pool:
                yield from pool.map(fn, *items)
        finally:
            torch.set_num_threads(threads)

    def search_epoch(self, searcher: Searcher) -> tuple[list[ScoredArch], float]:
        """Phase (b): ``controller_steps`` steps, each asking ``archs_per_step`` architectures, rewarding
        them side by side (`map`) and telling them in order. (ENAS's controller samples a step's
        architectures from one policy and updates once per step, so its proposals are as if asked
        one at a time; a searcher that learns from every tell sees a step's asks as concurrent.)"""
        started, cfg = time.perf_counter(), self.cfg
        scored: list[ScoredArch] = []
        for _ in range(cfg.controller_steps):
            proposals = [searcher.ask() for _ in range(cfg.archs_per_step)]
            splits = [self.reward_split() for _ in proposals]  # drawn in ask order, as one at a time
            accuracies = self.map(self.score, [p.genotype for p in proposals], splits)
            for proposal, accuracy in zip(proposals, accuracies, strict=True):
                searcher.tell(proposal.trial_id, TrialResult("completed", accuracy))
                scored.append(ScoredArch(proposal.trial_id, proposal.genotype, accuracy, cfg.reward_batch))
        return scored, time.perf_counter() - started

    def run_epoch(self, sample_path: Callable[[], GenotypeLike], searcher: Searcher) -> EpochReport:
        """One ENAS epoch: phase (a), then phase (b); ``self.epoch`` counts the epochs done."""
        lr = float(self.schedule.get_last_lr()[0])
        loss, accuracy, train_s = self.train_epoch(sample_path)
        scored, search_s = self.search_epoch(searcher)
        self.epoch += 1
        rewards = [s.accuracy for s in scored]
        report = EpochReport(
            epoch=self.epoch,
            train_loss=loss,
            train_accuracy=accuracy,
            lr=lr,
            mean_reward=sum(rewards) / len(rewards),
            max_reward=max(rewards),
            train_s=train_s,
            search_s=search_s,
            scored=scored,
        )
        logger.info("supernet epoch %d: %s", self.epoch, report.summary())
        return report

    def _check_finite(self, loss_sum: torch.Tensor) -> None:
        epoch = self.epoch + 1
        if not torch.isfinite(loss_sum):
            raise SupernetDivergedError(
                f"supernet epoch {epoch}: the training loss became {float(loss_sum)}; the shared weights "
                "diverged (try a lower --lr); the last good checkpoint is the previous epoch's"
            )
        bad = [name for name, p in self.supernet.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise SupernetDivergedError(
                f"supernet epoch {epoch}: non-finite shared weights ({bad[0]} and {len(bad) - 1} more); "
                "the last good checkpoint is the previous epoch's"
            )

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data only (``torch.load(..., weights_only=True)`` reads it)."""
        return {
            "epoch": self.epoch,
            "supernet": {k: v.detach().cpu() for k, v in self.supernet.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "batches_rng": self.batches.generator.get_state(),
            "reward_rng": self.reward_generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.batches.generator.set_state(state["batches_rng"])
        self.reward_generator.set_state(state["reward_rng"])
        self.epoch = int(state["epoch"])


class _SampledPaths(torch.nn.Module):
    """The supernet as one network whose every call runs a freshly sampled path (ENAS's phase (a):
    one architecture per minibatch), so the one training loop can drive it."""

    def __init__(self, supernet: SuperNetwork, sample_path: Callable[[], GenotypeLike]) -> None:
        super().__init__()
        self.supernet = supernet
        self.sample_path = sample_path

    def forward(self, x: torch.Tensor) -> Any:
        return self.supernet.child(self.sample_path())(x)
