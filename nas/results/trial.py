"""One child's outcome as the searcher sees it: a status and a reward.

It sits below both the trainer (which produces it) and the searchers (which learn from it), so
neither imports the other.
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
