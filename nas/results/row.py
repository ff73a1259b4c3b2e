"""One leaderboard row: a finished child as the run folder, the live view and the report see it.

The adapter builds a `TrialRow` when a child finishes, the run folder appends it to ``trials.jsonl``
(its `to_dict`, keys in `LEADERBOARD_KEYS` order), and everything that reads a leaderboard back -- the
resume, ``nas report``, the live view, the W&B summary -- reads `TrialRow`s. `best` is the one rule for
"the best child" all of them share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, get_args

from nas.errors import NasError
from nas.results.trial import TrialResult, TrialStatus, is_ranked, outcome


@dataclass(frozen=True)
class TrialRow:
    """A finished child: which proposal, its genotype (as JSON data), how it ended, what it measured.

    ``status`` is any `TrialStatus`; ``val_accuracy`` is the trainer's best epoch accuracy for a
    completed child, the best it reached for a ``stopped`` one (never ranked: `scored`), and None for
    a failed or rejected one; ``error`` says why a child did not complete (and, for a stopped one,
    after how many epochs).
    """

    index: int  # completion order within the run, 0-based
    trial_id: str  # the searcher's proposal id
    genotype: dict[str, Any]
    status: TrialStatus
    val_accuracy: float | None
    val_accuracy_history: list[float]
    params: int | None
    mult_adds: int | None
    wall_s: float | None
    images_per_s: float | None
    epochs_done: int
    error: str | None
    searcher: str
    # Columns added with NAS-Bench-201 (issue 23); rows written before them read back as None.
    arch: str | None = None  # the cell's arch string (NB201), the benchmark's own name for it
    table_accuracy: float | None = None  # the benchmark table's 200-epoch test accuracy, in [0, 1]
    duplicate_of: str | None = None  # the trial id whose recorded result this row repeats (not trained)

    def __post_init__(self) -> None:
        if self.status not in get_args(TrialStatus):
            raise NasError(f"leaderboard row {self.index}: unknown status {self.status!r}")

    @property
    def scored(self) -> bool:
        """Completed with an accuracy, and the first of its cell: the rows that compete for `best` and the
        report's rankings (a repeat of a cell, told or retrained, is not ranked again:
        `nas.results.duplicates`)."""
        return is_ranked(self.status, self.val_accuracy) and self.duplicate_of is None

    def to_dict(self) -> dict[str, Any]:
        """The ``trials.jsonl`` object, keys in `LEADERBOARD_KEYS` order."""
        return {key: getattr(self, key) for key in LEADERBOARD_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRow:
        """A row read back from ``trials.jsonl``; other keys than `LEADERBOARD_KEYS` are a `NasError`."""
        if not set(REQUIRED_KEYS) <= set(data) <= set(LEADERBOARD_KEYS):
            differ = sorted((set(data) ^ set(LEADERBOARD_KEYS)) - set(OPTIONAL_KEYS))
            raise NasError(f"leaderboard row keys differ from LEADERBOARD_KEYS: {differ}")
        return cls(
            index=int(data["index"]),
            trial_id=str(data["trial_id"]),
            genotype=dict(data["genotype"]),
            status=data["status"],
            val_accuracy=data["val_accuracy"],
            val_accuracy_history=[float(v) for v in data["val_accuracy_history"]],
            params=data["params"],
            mult_adds=data["mult_adds"],
            wall_s=data["wall_s"],
            images_per_s=data["images_per_s"],
            epochs_done=int(data["epochs_done"]),
            error=data["error"],
            searcher=str(data["searcher"]),
            arch=data.get("arch"),
            table_accuracy=data.get("table_accuracy"),
            duplicate_of=data.get("duplicate_of"),
        )

    def to_trial_result(self) -> TrialResult:
        """What the searcher is told of this row (`nas.results.trial.outcome`)."""
        return outcome(self.status, self.val_accuracy, self.params, self.mult_adds, self.error)


LEADERBOARD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(TrialRow))
"""Columns of ``trials.jsonl`` / ``trials.csv``, in order: the fields of `TrialRow`."""
OPTIONAL_KEYS: tuple[str, ...] = ("arch", "table_accuracy", "duplicate_of")
"""Columns a row written before they existed lacks (read back as None)."""
REQUIRED_KEYS: tuple[str, ...] = tuple(k for k in LEADERBOARD_KEYS if k not in OPTIONAL_KEYS)


def best(rows: Iterable[TrialRow | None]) -> TrialRow | None:
    """The `scored <TrialRow.scored>` row with the highest validation accuracy, the earliest on a tie.

    ``None`` entries are skipped, so a running best is ``best([current, new])``.
    """
    top, top_accuracy = None, -math.inf
    for row in rows:
        accuracy = row.val_accuracy if row is not None and row.scored else None
        if accuracy is not None and accuracy > top_accuracy:
            top, top_accuracy = row, accuracy
    return top
