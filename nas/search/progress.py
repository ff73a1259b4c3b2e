"""What a search shows while it runs: a live view in a terminal, one line per child elsewhere.

Tune reports to the driver through callbacks; `SearchProgress.tune_callback` counts children starting
and stopping, and the adapter hands each finished child's leaderboard row to `SearchProgress.child_done`.

- In a terminal the view is a rich ``Live`` redrawn twice a second (budget, running children, best so
  far, the last few children, time left), so a long child still shows its elapsed time.
- Anywhere else (output piped or redirected to a file, a Ray job's log) a redrawn view would be
  noise, so each finished child is one plain line on stderr.
- With ``--quiet`` or ``--json`` nothing is shown (the command prints one final line or object).

The view lives in the driver and is never pickled: Tune pickles its callbacks into the experiment
folder, so the callback reaches the view through a `nas.tracking.base.DriverLocal`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from ray.tune import Callback
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nas.results.duplicates import best_cell, evaluated, is_retrained, is_told_duplicate
from nas.results.row import TrialRow, best, score_label
from nas.results.selection import selected
from nas.tracking.base import DriverLocal

_LAST = 5
ViewMode = Literal["live", "lines", "off"]


def view_mode(console: Console, *, quiet: bool) -> ViewMode:
    """``live`` in a terminal, ``lines`` elsewhere, ``off`` when asked to be quiet."""
    if quiet:
        return "off"
    return "live" if console.is_terminal and not console.is_dumb_terminal else "lines"


class SearchProgress:
    """Counts and the best child so far; ``with progress:`` shows them as ``mode`` says."""

    def __init__(
        self,
        *,
        budget: int,
        rows: Sequence[TrialRow],
        run_dir: str,
        console: Console,
        mode: ViewMode,
        score_by: str = "val_accuracy",
        stage: str = "search",
    ) -> None:
        self.budget = budget
        self.stage = stage  # `TrialRow.stage`: the selection's view shows its choice by mean accuracy
        self.rows: list[TrialRow] = []  # this stage's rows: the selection's choice, the retrained means
        self.score_by = score_by  # the run's --score: what "best" means, shown beside the accuracy
        self.run_dir = run_dir
        self.console = console
        self.mode = mode
        self.done_before = evaluated(rows)  # what --trials counts: told duplicates are not
        self.done = self.done_before
        self.counts: dict[str, int] = {}
        self.running = 0
        self.stopping = False
        self.best: TrialRow | None = None
        self.last: deque[TrialRow] = deque(maxlen=_LAST)
        for row in rows:
            self._record(row)
        self.started = time.monotonic()
        self._live = (
            Live(console=console, get_renderable=self.render, refresh_per_second=2, transient=False)
            if mode == "live"
            else None
        )

    def __enter__(self) -> SearchProgress:
        if self._live is not None:
            self._live.start()
        elif self.mode == "lines":
            self._line(f"{self.stage}: {self.done}/{self.budget} children done, run folder {self.run_dir}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def tune_callback(self) -> Callback:
        return _ProgressCallback(self)

    def child_done(self, row: TrialRow) -> None:
        self.done += 0 if is_told_duplicate(row) else 1
        self._record(row)
        if self.mode == "lines":
            self._line(self._child_line(row))

    def stop_requested(self) -> None:
        """Ctrl-C was pressed: say that running children are being stopped."""
        self.stopping = True
        if self.mode == "lines":
            self._line("stopping: ending the running children (Ctrl-C again to quit at once)")

    def _record(self, row: TrialRow) -> None:
        self.last.append(row)
        self.counts[row.status] = self.counts.get(row.status, 0) + 1
        self.rows.append(row)
        self.best = best_cell(self.rows) if is_retrained(row) else best([self.best, row])

    def _best_text(self) -> str:
        """The best child so far; in the selection, the cell chosen so far by its mean (`selected`)."""
        if self.stage == "select":
            choice = selected(self.rows)
            if choice is None:
                return "selected: none yet"
            return (
                f"selected: mean val_acc {choice.mean:.4f} over {len(choice.accuracies)} seed(s) "
                f"{genotype_summary(choice.genotype)}"
            )
        if self.best is None:
            return "best: none yet"
        return f"best by {self.score_by}: {self._figures(self.best)} (child {self.best.trial_id})"

    def _line(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)

    def _figures(self, row: TrialRow) -> str:
        """A row's accuracy and, when the run scores by something else, that figure: the two numbers
        every view shows of a child."""
        accuracy = "-" if row.val_accuracy is None else f"{row.val_accuracy:.4f}"
        if self.score_by == "val_accuracy":
            return f"val_acc {accuracy}"
        measured = "-" if row.measured is None else f"{row.measured:.4f}"
        return f"{score_label(self.score_by).removesuffix(' (score)')} {measured}, val_acc {accuracy}"

    def _child_line(self, row: TrialRow) -> str:
        figures = "" if row.val_accuracy is None and row.measured is None else f" {self._figures(row)}"
        wall = "" if row.wall_s is None else f" {row.wall_s:.1f} s"
        why = f" ({row.error})" if row.error else ""
        why += f" (duplicate of {row.duplicate_of}, not trained)" if is_told_duplicate(row) else ""
        stage = "" if self.stage == "search" else f"{self.stage} "
        return f"[{stage}{self.done}/{self.budget}] child {row.trial_id} {row.status}{figures}{wall}{why}; {self._best_text()}"

    def eta_s(self) -> float | None:
        """Remaining children times the mean wall time per child finished in this attempt."""
        finished_now = self.done - self.done_before
        if finished_now == 0:
            return None
        return (time.monotonic() - self.started) / finished_now * (self.budget - self.done)

    def render(self) -> Group:
        elapsed = time.monotonic() - self.started
        eta = self.eta_s()
        counts = ", ".join(
            f"{n} {status}" for status, n in sorted(self.counts.items()) if status != "completed"
        )
        head = Text.assemble(
            (f"{self.stage} ", "bold"),
            f"{self.done}/{self.budget} done{f' ({counts})' if counts else ''}, {self.running} running  ",
            f"elapsed {_clock(elapsed)}  ETA {_clock(eta) if eta is not None else '?'}",
        )
        if self.stopping:
            head.append("  stopping (Ctrl-C again to quit at once)", style="bold yellow")
        shown = self._best_text()
        if self.stage == "search" and self.best is not None:
            shown += f" {genotype_summary(self.best.genotype)}"
        best = Text(shown)
        by_accuracy = self.score_by == "val_accuracy"
        scored = () if by_accuracy else (score_label(self.score_by),)
        table = Table(box=None, pad_edge=False)
        for column in ("#", "child", "status", score_label("val_accuracy") if by_accuracy else "val_acc"):
            table.add_column(column)
        for column in (*scored, "params", "wall_s", "error"):
            table.add_column(column)
        for row in self.last:
            measured = () if by_accuracy else ("-" if row.measured is None else f"{row.measured:.4f}",)
            table.add_row(
                str(row.index),
                row.trial_id,
                row.status,
                "-" if row.val_accuracy is None else f"{row.val_accuracy:.4f}",
                *measured,
                "-" if row.params is None else f"{row.params:,}",
                "-" if row.wall_s is None else f"{row.wall_s:.1f}",
                (row.error or "")[:60],
            )
        return Group(head, best, table, Text(f"run folder: {self.run_dir}", style="dim"))


class _ProgressCallback(Callback):
    """Tune's side of the view: how many children are running right now."""

    def __init__(self, progress: SearchProgress) -> None:
        self.progress = DriverLocal(progress)

    def _add_running(self, delta: int) -> None:
        progress = self.progress.get()
        if progress is not None:
            progress.running = max(progress.running + delta, 0)

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._add_running(1)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._add_running(-1)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._add_running(-1)


def genotype_summary(genotype: Mapping[str, Any]) -> str:
    """A one-line view of a genotype dict: each cell's ops, e.g. ``normal[sep_conv_3x3 skip ...]``, or a
    NAS-Bench-201 cell's arch string."""
    if "arch" in genotype:
        return str(genotype["arch"])
    parts = []
    for cell in ("normal", "reduce"):
        ops = [op for block in genotype[cell]["blocks"] for op in (block["op_a"], block["op_b"])]
        parts.append(f"{cell}[{' '.join(ops)}]")
    return " ".join(parts)


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"
