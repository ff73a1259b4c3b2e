"""The search's live view and per-child lines say what children are scored by, beside the accuracy."""

from __future__ import annotations

import io

from rich.console import Console

from nas.search.progress import SearchProgress
from tests.results.test_score import _row


def _view(score_by: str) -> tuple[SearchProgress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=160)
    rows = [_row(0, accuracy=0.20, loss=2.1, by=score_by), _row(1, accuracy=0.31, loss=2.0, by=score_by)]
    return SearchProgress(
        budget=4, rows=rows, run_dir="run", console=console, mode="lines", score_by=score_by
    ), out


def test_the_view_shows_the_score_it_ranks_by_and_the_accuracy() -> None:
    progress, out = _view("val_loss")
    progress.child_done(_row(2, accuracy=0.28, loss=1.7))
    line = out.getvalue().strip().splitlines()[-1]
    assert "child 2 completed val_loss 1.7000, val_acc 0.2800" in line
    assert line.endswith("best by val_loss: val_loss 1.7000, val_acc 0.2800 (child 2)")
    progress.console.print(progress.render())  # a NAS-Bench-201 cell is shown by its arch string
    table = out.getvalue()
    assert (
        "val_acc  val_loss (score)" in table and "best by val_loss" in table and "|avg_pool_3x3~0|" in table
    )


def test_by_accuracy_the_view_has_one_figure_column() -> None:
    progress, out = _view("val_accuracy")
    progress.console.print(progress.render())
    assert "val_acc (score)" in out.getvalue() and "val_loss" not in out.getvalue()


def test_the_selection_view_names_its_stage_and_the_cell_chosen_by_mean() -> None:
    import dataclasses

    out = io.StringIO()
    progress = SearchProgress(
        budget=4, rows=[], run_dir="run", console=Console(file=out, width=160), mode="lines", stage="select"
    )
    cell = _row(0, accuracy=0.0, loss=2.0).genotype
    with progress:
        for index, accuracy in enumerate((0.30, 0.50)):  # two seeds of one cell: mean 0.40
            row = _row(index, accuracy=accuracy, loss=2.0)
            progress.child_done(dataclasses.replace(row, stage="select", genotype=cell))
    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith("select: 0/4 children done")
    assert lines[-1].startswith("[select 2/4] child 1 completed")
    assert "selected: mean val_acc 0.4000 over 2 seed(s)" in lines[-1]
    progress.console.print(progress.render())
    assert "select 2/4 done" in out.getvalue()
