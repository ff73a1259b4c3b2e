"""One leaderboard row: a finished child as the run folder, the live view and the report see it.

The adapter builds a `TrialRow` when a child finishes, the run folder appends it to ``trials.jsonl``
(its `to_dict`, keys in `LEADERBOARD_KEYS` order), and everything that reads a leaderboard back -- the
resume, ``nas report``, the live view, the W&B summary -- reads `TrialRow`s. `best` is the one rule for
"the best child" all of them share: the highest score (`nas.results.trial.score_of`), whatever the
run scores by (``score_by``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, get_args

from nas.errors import NasError
from nas.results.trial import TrialResult, TrialStatus, is_ranked, outcome

STAGES = ("search", "select")
"""The stages whose children a leaderboard holds: the search's, then the selection's (``--select-top``:
the search's top cells retrained longer, NASNet's protocol; `nas.search.selection`)."""


@dataclass(frozen=True)
class TrialRow:
    """A finished child: which proposal, its genotype (as JSON data), how it ended, what it measured.

    ``status`` is any `TrialStatus`; ``val_accuracy`` is the trainer's best epoch accuracy for a
    completed child, the best it reached for a ``stopped`` one (never ranked: `scored`), and None for
    a failed or rejected one; ``error`` says why a child did not complete (and, for a stopped one,
    after how many epochs). ``score`` is what the searcher was told and the leaderboard ranks by,
    read by ``score_by`` (the run's ``--score``) from ``val_accuracy``, ``val_loss`` (the best epoch's)
    ``train_loss_sum`` or ``zero_cost``; rows written before scores existed were scored by their accuracy.
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
    # Columns added with --score (issue 24); older rows read back scored by their accuracy.
    val_loss: float | None = None  # the best epoch's mean validation cross-entropy
    train_loss_sum: float | None = None  # the minibatch training losses summed over the run
    score: float | None = None  # higher is better, in [0, 1]: `nas.results.trial.score_of`
    score_by: str = "val_accuracy"  # the run's --score, one of `nas.results.trial.SCORES`
    # Column added with --select-top (issue 24): which stage trained the child; older rows are the search's.
    stage: str = "search"  # one of `STAGES`: the search, or the selection's retraining of its top cells
    # Column added with --score zero_cost: the untrained child's synflow_naswot proxy (nothing trained).
    zero_cost: float | None = None
    # Column added with --max-samples: a repeat of a cell trained again (--retrain-duplicates), told
    # apart from a told duplicate even when it failed without a wall time. Older rows: None (a wall time
    # then says it was trained).
    retrained: bool | None = None

    def __post_init__(self) -> None:
        if self.status not in get_args(TrialStatus):
            raise NasError(f"leaderboard row {self.index}: unknown status {self.status!r}")
        if self.stage not in STAGES:
            raise NasError(f"leaderboard row {self.index}: unknown stage {self.stage!r}")
        if self.score_by == "val_accuracy":  # scored by its accuracy, a row's score is that accuracy
            object.__setattr__(self, "score", self.val_accuracy)

    @property
    def scored(self) -> bool:
        """Completed with a score, and the first of its cell: the rows that compete for `best` and the
        report's rankings (a repeat of a cell, told or retrained, is not ranked again:
        `nas.results.duplicates`)."""
        return is_ranked(self.status, self.score) and self.duplicate_of is None

    @property
    def measured(self) -> float | None:
        """The figure the score is read from, as measured (an accuracy or a loss): what a view shows
        under `score_label`."""
        value: float | None = getattr(self, self.score_by)
        return value

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
            val_loss=data.get("val_loss"),
            train_loss_sum=data.get("train_loss_sum"),
            score=data.get("score"),
            score_by=str(data.get("score_by", "val_accuracy")),
            stage=str(data.get("stage", "search")),
            zero_cost=data.get("zero_cost"),
            retrained=data.get("retrained"),
        )

    def to_trial_result(self) -> TrialResult:
        """What the searcher is told of this row (`nas.results.trial.outcome`)."""
        return outcome(self.status, self.score, self.params, self.mult_adds, self.error)


LEADERBOARD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(TrialRow))
"""Columns of ``trials.jsonl`` / ``trials.csv``, in order: the fields of `TrialRow`."""
OPTIONAL_KEYS: tuple[str, ...] = (
    "arch",
    "table_accuracy",
    "duplicate_of",
    "val_loss",
    "train_loss_sum",
    "score",
    "score_by",
    "stage",
    "zero_cost",
    "retrained",
)
"""Columns a row written before they existed lacks (read back as None)."""
REQUIRED_KEYS: tuple[str, ...] = tuple(k for k in LEADERBOARD_KEYS if k not in OPTIONAL_KEYS)


def best(rows: Iterable[TrialRow | None]) -> TrialRow | None:
    """The `scored <TrialRow.scored>` row with the highest score, the earliest on a tie.

    ``None`` entries are skipped, so a running best is ``best([current, new])``.
    """
    top, top_score = None, -math.inf
    for row in rows:
        score = row.score if row is not None and row.scored else None
        if score is not None and score > top_score:
            top, top_score = row, score
    return top


def score_label(by: str) -> str:
    """How a view names the figure a run scores by (`TrialRow.measured`), e.g. ``val_loss (score)``."""
    short = {"val_accuracy": "val_acc", "val_loss": "val_loss", "train_loss_sum": "train_loss_sum"}
    return f"{short.get(by, by)} (score)"
