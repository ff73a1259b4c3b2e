"""Every setting of a search, typed and checked before Ray starts; what a child's worker is sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from nas.errors import ConfigError

SCHEDULERS = ("fifo", "asha")


@dataclass(frozen=True)
class SearchSettings:
    """Every setting of a search, as saved in ``config.json``. Defaults: a small search on this machine."""

    space: str = "nasnet"
    searcher: str = "rl"
    searcher_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of its constructor
    trials: int = 16  # the README's main job; the searchers' defaults are sized to teach within it
    epochs: int = 1
    N: int = 1
    C: int = 8
    blocks: int = 5
    batch_size: int = 32  # with lr 0.1 and 2,048 images, one epoch (64 steps) lifts cells to ~30% from 10%
    lr: float = 0.1
    data_dir: str | None = None
    download: bool = False
    train_size: int = 2048
    val_size: int = 512
    seed: int = 0
    address: str | None = None
    gpus_per_trial: float | None = None  # None: 0 on a cluster without GPUs, else 1
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None  # None: as many as the cluster's CPUs allow
    scheduler: str = "fifo"
    max_failures: int = 1  # retries of a child whose worker died (preempted node, OOM kill)
    max_params: int | None = None
    max_mult_adds: int | None = None
    name: str | None = None
    results_dir: str = "results"
    wandb: str = "auto"
    wandb_project: str = "nas"
    wandb_entity: str | None = None

    def validate(self) -> None:
        """Refuse bad input before Ray starts; each message names the flag."""
        from nas.search.searcher import SEARCHERS, check_searcher_options
        from nas.tracking.base import MODES
        from search_spaces import SPACES

        checks = [
            (
                self.space in SPACES,
                f"--space: unknown search space {self.space!r}; known: {', '.join(SPACES)}",
            ),
            (
                self.searcher in SEARCHERS,
                f"--searcher: unknown searcher {self.searcher!r}; known: {', '.join(sorted(SEARCHERS))}",
            ),
            (self.trials >= 1, f"--trials must be at least 1, got {self.trials}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.blocks >= 1, f"--blocks must be at least 1, got {self.blocks}"),
            (self.train_size >= 1 and self.val_size >= 1, "--train-size and --val-size must be at least 1"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.cpus_per_trial > 0, f"--cpus-per-trial must be positive, got {self.cpus_per_trial}"),
            (
                self.gpus_per_trial is None or self.gpus_per_trial >= 0,
                f"--gpus-per-trial must be >= 0, got {self.gpus_per_trial}",
            ),
            (
                self.max_concurrent is None or self.max_concurrent >= 1,
                f"--max-concurrent must be at least 1, got {self.max_concurrent}",
            ),
            (self.max_failures >= 0, f"--max-failures must be >= 0, got {self.max_failures}"),
            (self.scheduler in SCHEDULERS, f"--scheduler: expected one of {', '.join(SCHEDULERS)}"),
            (self.wandb in MODES, f"--wandb: expected one of {', '.join(MODES)}, got {self.wandb!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        check_searcher_options(self.searcher, self.searcher_options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ChildSettings:
    """What a child's worker needs besides its genotype (shipped once with ``tune.with_parameters``)."""

    data_dir: str | None
    train_size: int
    val_size: int
    split_seed: int
    network: dict[str, Any]
    train: dict[str, Any]


def default_run_name(settings: SearchSettings) -> str:
    return f"{settings.searcher}-s{settings.seed}-{datetime.now():%Y%m%d-%H%M%S}"
