"""The live view of a search in the terminal: budget, running children, best so far, the last few.

Tune reports to the driver through callbacks; `SearchProgress.tune_callback` counts children starting
and stopping, and the adapter hands each finished child's leaderboard row to `SearchProgress.child_done`.
The view is a rich ``Live`` redrawn twice a second, so a long child still shows its elapsed time.
With ``--quiet`` nothing is drawn (the command prints one final line).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from ray.tune import Callback
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nas.results.row import TrialRow, best

_LAST = 5


class SearchProgress:
    """Counts and the best child so far; ``with progress:`` shows it live unless ``enabled`` is False."""

    def __init__(
        self, *, budget: int, rows: Sequence[TrialRow], run_dir: str, console: Console, enabled: bool
    ) -> None:
        self.budget = budget
        self.run_dir = run_dir
        self.done_before = len(rows)
        self.done = len(rows)
        self.failed = sum(r.status != "completed" for r in rows)
        self.running = 0
        self.best: TrialRow | None = None
        self.last: deque[TrialRow] = deque(maxlen=_LAST)
        for row in rows:
            self._record(row)
        self.started = time.monotonic()
        self._live = (
            Live(console=console, get_renderable=self.render, refresh_per_second=2) if enabled else None
        )

    def __enter__(self) -> SearchProgress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def tune_callback(self) -> Callback:
        return _ProgressCallback(self)

    def child_done(self, row: TrialRow) -> None:
        self.done += 1
        self.failed += row.status != "completed"
        self._record(row)

    def _record(self, row: TrialRow) -> None:
        self.last.append(row)
        self.best = best([self.best, row])

    def eta_s(self) -> float | None:
        """Remaining children times the mean wall time per child finished in this attempt."""
        finished_now = self.done - self.done_before
        if finished_now == 0:
            return None
        return (time.monotonic() - self.started) / finished_now * (self.budget - self.done)

    def render(self) -> Group:
        elapsed = time.monotonic() - self.started
        eta = self.eta_s()
        head = Text.assemble(
            ("search ", "bold"),
            f"{self.done}/{self.budget} done, {self.running} running, {self.failed} failed/rejected  ",
            f"elapsed {_clock(elapsed)}  ETA {_clock(eta) if eta is not None else '?'}",
        )
        best = Text(
            "best: none yet"
            if self.best is None
            else f"best: {self.best.val_accuracy:.4f} (trial {self.best.trial_id}) "
            f"{genotype_summary(self.best.genotype)}"
        )
        table = Table(box=None, pad_edge=False)
        for column in ("#", "trial", "status", "val_acc", "params", "wall_s", "error"):
            table.add_column(column)
        for row in self.last:
            table.add_row(
                str(row.index),
                row.trial_id,
                row.status,
                "-" if row.val_accuracy is None else f"{row.val_accuracy:.4f}",
                "-" if row.params is None else f"{row.params:,}",
                "-" if row.wall_s is None else f"{row.wall_s:.1f}",
                (row.error or "")[:60],
            )
        return Group(head, best, table, Text(f"run folder: {self.run_dir}", style="dim"))


class _ProgressCallback(Callback):
    """Tune's side of the view: how many children are running right now."""

    def __init__(self, progress: SearchProgress) -> None:
        self.progress = progress

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.progress.running += 1

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.progress.running = max(self.progress.running - 1, 0)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.progress.running = max(self.progress.running - 1, 0)


def genotype_summary(genotype: Mapping[str, Any]) -> str:
    """A one-line view of a genotype dict: each cell's ops, e.g. ``normal[sep_conv_3x3 skip ...]``."""
    parts = []
    for cell in ("normal", "reduce"):
        ops = [op for block in genotype[cell]["blocks"] for op in (block["op_a"], block["op_b"])]
        parts.append(f"{cell}[{' '.join(ops)}]")
    return " ".join(parts)


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"
