"""The one rule of what a child is worth (`nas.results.trial.score_of`): its sign, its range and the
order it gives the leaderboard, `best_genotype.json` and the searchers (docs/fidelity.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nas.errors import ConfigError
from nas.results.row import TrialRow, best
from nas.results.run_folder import RunFolder
from nas.results.trial import SCORES, TrialResult, outcome, score_of
from nas.searcher.base import shaped_reward
from nas.space.nb201 import Nb201Genotype

CELLS = ("nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1")


def _row(index: int, *, accuracy: float, loss: float, by: str = "val_loss") -> TrialRow:
    """A completed child scored by ``by`` from its accuracy and loss, as the worker scores it."""
    figures = {"val_accuracy": accuracy, "val_loss": loss, "train_loss_sum": 64 * loss, "steps": 64}
    return TrialRow(
        index=index,
        trial_id=str(index),
        genotype=Nb201Genotype((CELLS[index],) * 6).to_dict(),
        status="completed",
        val_accuracy=accuracy,
        val_accuracy_history=[accuracy],
        params=1000,
        mult_adds=10_000,
        wall_s=1.0,
        images_per_s=100.0,
        epochs_done=1,
        error=None,
        searcher="random",
        val_loss=loss,
        train_loss_sum=64 * loss,
        score=score_of(by, **figures),
        score_by=by,
    )


def test_a_lower_loss_scores_higher_and_every_score_is_a_reward_in_0_1() -> None:
    for by in ("val_loss", "train_loss_sum"):
        low, high = (
            score_of(by, val_accuracy=0.1, val_loss=loss, train_loss_sum=64 * loss, steps=64)
            for loss in (1.6, 2.3)
        )
        assert low is not None and high is not None and 0.0 < high < low <= 1.0, by
    assert score_of(
        "val_loss", val_accuracy=0.3, val_loss=2.0, train_loss_sum=None, steps=0
    ) == pytest.approx(math.exp(-2.0))
    assert score_of("val_accuracy", val_accuracy=0.3, val_loss=2.0, train_loss_sum=9.0, steps=3) == 0.3
    # The sum of training losses is read per step: the same loss over more steps is not worse.
    per_step = [
        score_of("train_loss_sum", val_accuracy=None, val_loss=None, train_loss_sum=2.0 * n, steps=n)
        for n in (10, 40)
    ]
    assert per_step[0] == pytest.approx(per_step[1]) == pytest.approx(math.exp(-2.0))


def test_a_figure_missing_or_not_finite_is_no_score_and_an_unknown_score_is_refused() -> None:
    assert score_of("val_loss", val_accuracy=0.3, val_loss=None, train_loss_sum=1.0, steps=1) is None
    assert score_of("val_loss", val_accuracy=0.3, val_loss=math.nan, train_loss_sum=1.0, steps=1) is None
    assert score_of("train_loss_sum", val_accuracy=0.3, val_loss=1.0, train_loss_sum=5.0, steps=0) is None
    with pytest.raises(ConfigError, match="unknown 'test_accuracy'"):
        score_of("test_accuracy", val_accuracy=0.3, val_loss=1.0, train_loss_sum=1.0, steps=1)
    assert SCORES == ("val_accuracy", "val_loss", "train_loss_sum", "zero_cost")


def test_the_zero_cost_score_orders_as_the_proxy_and_stays_a_reward() -> None:
    """``zero_cost``: 1 - exp(-Z / 1000) of the untrained child's synflow_naswot proxy Z, so a higher Z
    scores higher, every score is a reward in [0, 1], and a cell through which nothing flows (Z below 0) is 0."""
    untrained = {"val_accuracy": None, "val_loss": None, "train_loss_sum": None, "steps": 0}
    scores = [score_of("zero_cost", **untrained, zero_cost=z) for z in (-54.0, 0.0, 1045.9, 1280.0, 5000.0)]
    assert scores[:2] == [0.0, 0.0] and scores[1] < scores[2] < scores[3] < scores[4] < 1.0  # type: ignore[operator]
    assert scores[3] == pytest.approx(1 - math.exp(-1.28))
    assert score_of("zero_cost", **untrained) is None  # no proxy figure: no score (a failed child)
    assert TrialResult("completed", scores[3]).ranked


def test_the_searcher_is_told_the_score_and_a_failed_child_stays_below_every_trained_one() -> None:
    row = _row(0, accuracy=0.12, loss=2.2)
    told = row.to_trial_result()
    assert (told.status, told.reward) == ("completed", pytest.approx(math.exp(-2.2)))
    failed = outcome("failed", None)
    assert shaped_reward(failed, failure_reward=0.0) < shaped_reward(told, failure_reward=0.0)
    # A completed child without a score failed, whatever its accuracy (one rule: `outcome`).
    assert outcome("completed", None).status == "failed"
    with pytest.raises(ConfigError):
        TrialResult("completed", -2.2)  # a negated loss is not a reward


def test_the_leaderboard_and_best_genotype_follow_the_score(tmp_path: Path) -> None:
    # Child 1 has the higher accuracy, child 2 the lower loss: the loss decides under --score val_loss.
    by_loss = [
        _row(0, accuracy=0.20, loss=2.1),
        _row(1, accuracy=0.31, loss=2.0),
        _row(2, accuracy=0.28, loss=1.7),
    ]
    assert best(by_loss) is by_loss[2]
    by_accuracy = [
        _row(i, accuracy=r.val_accuracy or 0.0, loss=r.val_loss or 0.0, by="val_accuracy")
        for i, r in enumerate(by_loss)
    ]
    assert best(by_accuracy) is by_accuracy[1]
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    for row in by_loss:
        run.add_trial(row)
    assert json.loads(run.best_genotype.read_text()) == by_loss[2].genotype
    again = RunFolder(run.path).trials()
    assert [(r.score_by, r.score, r.val_loss) for r in again] == [
        (r.score_by, r.score, r.val_loss) for r in by_loss
    ]


def test_a_row_scored_by_accuracy_has_its_accuracy_as_its_score() -> None:
    """Rows written before --score (no score columns) read back scored by their accuracy."""
    row = _row(0, accuracy=0.25, loss=2.0, by="val_accuracy")
    assert row.score == 0.25 and row.measured == 0.25
    old = {
        k: v for k, v in row.to_dict().items() if k not in ("val_loss", "train_loss_sum", "score", "score_by")
    }
    back = TrialRow.from_dict(old)
    assert (back.score_by, back.score, back.to_trial_result().reward) == ("val_accuracy", 0.25, 0.25)
    assert _row(0, accuracy=0.25, loss=2.0).measured == 2.0  # a view shows the loss it was scored by


def test_the_report_ranks_by_the_score_and_shows_it_beside_the_accuracy(tmp_path: Path) -> None:
    from nas.results.report import write_report

    run = RunFolder(tmp_path / "by-loss")
    run.path.mkdir()
    run.config.write_text(json.dumps({"searcher": "random", "seed": 0, "score": "val_loss"}))
    rows = [
        _row(0, accuracy=0.20, loss=2.1),
        _row(1, accuracy=0.31, loss=2.0),
        _row(2, accuracy=0.28, loss=1.7),
    ]
    for row in rows:
        run.add_trial(row)
    out = write_report([run.path], tmp_path / "report", top=10)
    assert (out["best"]["trial_id"], out["best"]["score_by"]) == ("2", "val_loss")
    md = Path(out["report_md"]).read_text()
    assert "Ranked by val_loss" in md and "| val acc | val_loss (score) |" in md
    ranks = [line.split(" | ")[1] for line in md.splitlines() if line.startswith(("| 1 |", "| 2 |", "| 3 |"))]
    assert ranks == ["2", "1", "0"]  # by loss 1.7, 2.0, 2.1, not by accuracy
    assert "| 28.00% | 1.7000 |" in md
