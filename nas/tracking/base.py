"""Experiment tracking behind a small interface, so the search loop never imports W&B itself.

`create_tracker` returns a `NullTracker` when tracking is disabled (and then nothing imports
wandb); otherwise the W&B implementation in `nas.tracking.wandb_runs`. The trainer knows nothing of
either: children are logged from the driver through Ray Tune callbacks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from nas.errors import ConfigError

T = TypeVar("T")

MODES = ("auto", "online", "offline", "disabled")


@dataclass(frozen=True)
class TrackingConfig:
    """``auto`` means online when ``WANDB_API_KEY`` is set, offline otherwise (never a prompt)."""

    mode: str = "auto"
    project: str = "nas"
    entity: str | None = None
    group: str = "search"
    dir: Path = Path(".")
    job_type: str = "searcher"  # the driver's run: ``searcher``, or ``select`` for the selection stage

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown W&B mode {self.mode!r}; known: {', '.join(MODES)}")

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"


class Tracker(Protocol):
    """What the search driver reports; one implementation per tracking backend."""

    def tune_callbacks(self) -> list[Any]:
        """Ray Tune callbacks that log one run per child (config, per-epoch metrics, summary)."""
        ...

    def log_searcher(self, step: int, stats: Mapping[str, Any]) -> None:
        """The searcher's statistics after ``step`` finished children (reward, entropy, op probs...)."""
        ...

    def finish(self, *, best_genotype: Path | None, artifacts: Sequence[Path] = ()) -> None:
        """Log the best genotype JSON (and e.g. its cell diagram) as artifacts and close the runs."""
        ...


class NullTracker:
    """Tracking disabled: every call is a no-op."""

    def tune_callbacks(self) -> list[Any]:
        return []

    def log_searcher(self, step: int, stats: Mapping[str, Any]) -> None:
        return None

    def finish(self, *, best_genotype: Path | None, artifacts: Sequence[Path] = ()) -> None:
        return None


class DriverLocal(Generic[T]):
    """A reference to an object of the driver process that never travels: it pickles to an empty one.

    Ray Tune pickles what it is handed -- the search algorithm and the callbacks go into the
    experiment's ``tuner.pkl`` when the ``Tuner`` is built, and into its snapshots -- while a live
    terminal view holds locks, threads and the terminal itself, and a W&B writer holds a thread and
    its runs. Callbacks reach such objects through a ``DriverLocal``: in the driver `get` returns the
    object; a copy unpickled anywhere else returns None, and the callback does nothing there.
    """

    __slots__ = ("_obj",)

    def __init__(self, obj: T | None) -> None:
        self._obj = obj

    def get(self) -> T | None:
        return self._obj

    def __reduce__(self) -> tuple[type[DriverLocal[T]], tuple[None]]:
        return (DriverLocal, (None,))
