"""One child's outcome as the searcher sees it, and the one rule of what an outcome is worth.

It sits below both the trainer (which produces it) and the searchers (which learn from it), so
neither imports the other. The rule, used by the leaderboard, the live view, the report and every
searcher (`score_of`, `TrialResult.learnable`, `TrialResult.ranked`, `is_ranked`, `outcome`):

- a child's **score** is read from what it measured by the search's ``--score`` (`score_of`): its
  validation accuracy, its validation loss or its sum of training losses, always as a number in
  [0, 1] where higher is better; the score is the reward;
- **ranked** (competes for the best child, is a TPE COMPLETE, joins evolution's population): a
  ``completed`` child with a score;
- **learnable** (a reward a searcher may learn from): a ranked child's score, or the score a
  ``stopped`` child reached when the scheduler (ASHA) stopped it -- a lower-fidelity number, so each
  searcher says what it does with it (RL rewards it; TPE records it as PRUNED; evolution discards it);
- ``failed`` and ``rejected`` children have no reward (the RL controller gives them its
  ``failure_reward``; TPE records FAIL; evolution discards them); a ``completed`` child without a
  score counts as ``failed``;
- a duplicate of a recorded child (not trained again) is told the recorded outcome: `duplicate_outcome`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from nas.errors import ConfigError

SCORES = ("val_accuracy", "val_loss", "train_loss_sum", "zero_cost")
"""What a child can be scored by (``nas search --score``; `score_of`)."""
ZERO_COST_SCALE = 1000.0
"""``zero_cost``'s score is 1 - exp(-Z / this), Z the ``synflow_naswot`` proxy (`score_of`)."""

TrialStatus = Literal["completed", "stopped", "failed", "rejected"]
"""``completed``: trained for every epoch; ``stopped``: a scheduler (ASHA) ended it early because it
trailed its peers at the same epoch, so its accuracy is a lower-fidelity one and is never ranked
against completed children; ``failed``: training crashed or diverged; ``rejected``: refused before
training (e.g. too large)."""


@dataclass(frozen=True)
class TrialResult:
    """What a finished child reports back; ``reward`` is its score (`score_of`), in [0, 1].

    A ``stopped`` child's reward, if any, is the score it reached before it was stopped.
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


def score_of(
    by: str,
    *,
    val_accuracy: float | None,
    val_loss: float | None,
    train_loss_sum: float | None,
    steps: int,
    zero_cost: float | None = None,
) -> float | None:
    """A child's score by ``by`` (one of `SCORES`), higher is better, in [0, 1]; None without that figure.

    - ``val_accuracy``: the best epoch's validation accuracy, as NASNet rewards (Zoph et al. 2018);
    - ``val_loss``: exp(-L) of the best epoch's mean validation cross-entropy L, the geometric mean of
      the probability the child gives each image's true class. It ranks cells as -L does; on the
      NAS-Bench-201 table it ranks the 200-epoch accuracy at Kendall tau 0.24-0.37 where the accuracy
      of the same training gives 0.06 (docs/fidelity.md);
    - ``train_loss_sum``: exp(-S / steps) of the sum S of the minibatch training losses over the run
      (SoTL; Ru et al., "Speedy performance estimation for neural architecture search", NeurIPS 2021).
      Children of one search take the same steps, so it ranks them as -S does; a child stopped early
      (ASHA) is compared by its mean loss per step, not by a sum of fewer steps;
    - ``zero_cost``: 1 - exp(-max(Z, 0) / `ZERO_COST_SCALE`) of the untrained child's
      ``synflow_naswot`` proxy Z (`nas.proxies.synflow_naswot`; nothing trained, NASWOT's "search
      without training", Mellor et al. ICML 2021). On the NAS-Bench-201 table Z ranks the 200-epoch
      accuracy at Kendall tau 0.62-0.65 at the search's child size, where the trained proxy reaches
      0.24-0.30 on this machine's data (docs/fidelity.md). Z is about 1,100-1,400 for the child
      (N=1, C=8), so scores lie near 0.7; only the RL controller sees more than their order.

    Losses are mapped by exp(-x), not negated, because every searcher's reward is a number in [0, 1]
    where 0 is as bad as it gets: the RL controller rewards a failed child with ``failure_reward``
    (0.0), below every trained child's score only if scores are not negative, and its ``cubed``
    transform and moving-average baseline expect an accuracy's scale (exp(-2.0) = 0.14, exp(-1.6) = 0.20
    for the proxy's losses). A figure that is not finite (a diverged child) gives no score.
    """
    if by not in SCORES:
        raise ConfigError(f"score: unknown {by!r}; known: {', '.join(SCORES)}")
    if by == "val_accuracy":
        value = val_accuracy
    elif by == "val_loss":
        value = None if val_loss is None else math.exp(-val_loss)
    elif by == "train_loss_sum":
        value = None if train_loss_sum is None or steps < 1 else math.exp(-train_loss_sum / steps)
    else:
        value = None if zero_cost is None else 1.0 - math.exp(-max(zero_cost, 0.0) / ZERO_COST_SCALE)
    return value if value is not None and math.isfinite(value) else None


def is_ranked(status: str, score: float | None) -> bool:
    """A completed child with a score: the ones ranked for "the best child"."""
    return status == "completed" and score is not None


def outcome(
    status: TrialStatus,
    score: float | None,
    params: int | None = None,
    mult_adds: int | None = None,
    error: str | None = None,
) -> TrialResult:
    """What a searcher is told of a finished child: its score (`score_of`) is the reward where one
    counts, and a completed child without a score failed."""
    if status == "completed" and score is None:
        status = "failed"
    reward = score if status in ("completed", "stopped") else None
    return TrialResult(status, reward, params, mult_adds, error)


def duplicate_outcome(recorded: TrialResult) -> TrialResult:
    """Hook for a child whose network was trained already (equal `SearchSpace.canonical`): it is not
    trained again and the searcher is told the recorded outcome. Kept in one place so that a later
    "duplicate of <trial>" status changes what is told here only."""
    return recorded
