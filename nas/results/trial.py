"""One child's outcome as the searcher sees it, and the one rule of what an outcome is worth.

It sits below both the trainer (which produces it) and the searchers (which learn from it), so
neither imports the other. The rule, used by the leaderboard, the live view, the report and every
searcher (`TrialResult.learnable`, `TrialResult.ranked`, `is_ranked`, `outcome`):

- **ranked** (competes for the best child, is a TPE COMPLETE, joins evolution's population): a
  ``completed`` child with an accuracy;
- **learnable** (a reward a searcher may learn from): a ranked child's accuracy, or the accuracy a
  ``stopped`` child reached when the scheduler (ASHA) stopped it -- a lower-fidelity number, so each
  searcher says what it does with it (RL rewards it; TPE records it as PRUNED; evolution discards it);
- ``failed`` and ``rejected`` children have no reward (the RL controller gives them its
  ``failure_reward``; TPE records FAIL; evolution discards them); a ``completed`` child without an
  accuracy counts as ``failed``;
- a duplicate of a recorded child (not trained again) is told the recorded outcome: `duplicate_outcome`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from nas.errors import ConfigError

TrialStatus = Literal["completed", "stopped", "failed", "rejected"]
"""``completed``: trained for every epoch; ``stopped``: a scheduler (ASHA) ended it early because it
trailed its peers at the same epoch, so its accuracy is a lower-fidelity one and is never ranked
against completed children; ``failed``: training crashed or diverged; ``rejected``: refused before
training (e.g. too large)."""


@dataclass(frozen=True)
class TrialResult:
    """What a finished child reports back; ``reward`` is its validation accuracy in [0, 1].

    A ``stopped`` child's reward, if any, is the best accuracy it reached before it was stopped.
    """

    status: TrialStatus
    reward: float | None
    params: int | None = None
    mult_adds: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in get_args(TrialStatus):
            raise ConfigError(f"status must be one of {get_args(TrialStatus)}, got {self.status!r}")
        if self.status == "completed" and (
            self.reward is None or not math.isfinite(self.reward) or not 0.0 <= self.reward <= 1.0
        ):
            raise ConfigError(f"a completed trial needs a reward in [0, 1], got {self.reward!r}")
        if self.status == "stopped" and self.reward is not None and not 0.0 <= self.reward <= 1.0:
            raise ConfigError(f"a stopped trial's reward must be in [0, 1], got {self.reward!r}")

    @property
    def learnable(self) -> float | None:
        """The reward a searcher may learn from (completed or stopped, with an accuracy), else None."""
        return self.reward if self.status in ("completed", "stopped") else None

    @property
    def ranked(self) -> bool:
        """Competes with the other completed children (module docstring)."""
        return is_ranked(self.status, self.reward)


def is_ranked(status: str, accuracy: float | None) -> bool:
    """A completed child with an accuracy: the ones ranked for "the best child"."""
    return status == "completed" and accuracy is not None


def outcome(
    status: TrialStatus,
    accuracy: float | None,
    params: int | None = None,
    mult_adds: int | None = None,
    error: str | None = None,
) -> TrialResult:
    """What a searcher is told of a finished child: its accuracy is the reward where one counts, and a
    completed child without an accuracy failed."""
    if status == "completed" and accuracy is None:
        status = "failed"
    reward = accuracy if status in ("completed", "stopped") else None
    return TrialResult(status, reward, params, mult_adds, error)


def duplicate_outcome(recorded: TrialResult) -> TrialResult:
    """Hook for a child whose network was trained already (equal `SearchSpace.canonical`): it is not
    trained again and the searcher is told the recorded outcome. Kept in one place so that a later
    "duplicate of <trial>" status changes what is told here only."""
    return recorded
