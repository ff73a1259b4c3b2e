"""A search's run folder and its leaderboard: every file written so that a kill never leaves it torn.

A search is killed (Ctrl-C, a preempted node, ``kill -9``) at any moment, and both ``--resume`` and
``nas report`` then read what is on disk. So every file here is replaced atomically (write a temp file
in the same folder, fsync, ``os.replace``): a reader sees the old content or the new, never half.
The leaderboard files are small (one line per child), so appending rewrites them whole the same way;
the reader still skips a torn last line, should a file come from elsewhere (e.g. a plain ``>>``).

Layout of ``<results-dir>/<run>/``::

    config.json           every resolved setting of the search
    searcher_state.json   the searcher's JSON ``state_dict`` (after every tell)
    optuna.db             the Optuna study (tpe / random only)
    trials.jsonl          one object per finished child, keys `LEADERBOARD_KEYS` (the source of truth)
    trials.csv            the same rows, the genotype as compact JSON
    searcher_stats.jsonl  one object per tell: step, best_reward and the searcher's stats
    best_genotype.json    the best completed child's genotype
    ray/                  Ray Tune's experiment folders (one per attempt)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LEADERBOARD_KEYS = (
    "index",
    "trial_id",
    "genotype",
    "status",
    "val_accuracy",
    "val_accuracy_history",
    "params",
    "mult_adds",
    "wall_s",
    "images_per_s",
    "epochs_done",
    "error",
    "searcher",
)
"""Columns of ``trials.jsonl`` / ``trials.csv``, in order; `nas report` reads exactly these."""


def _file_mode() -> int:
    """0666 less the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp's 0600 would make run folders private to their writer
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_json_safe(obj), indent=2) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file; a torn or corrupt *last* line is skipped with a warning."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines):
                raise
            logger.warning("%s: skipping a torn last line", path)
    return rows


def append_jsonl(path: Path, row: Mapping[str, Any]) -> None:
    """Append ``row`` by rewriting the file atomically (dropping a torn last line, if any)."""
    text = "".join(json.dumps(r) + "\n" for r in [*read_jsonl(path), _json_safe(row)])
    atomic_write_text(path, text)


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them and readers choke on ``NaN``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def leaderboard_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as CSV in `LEADERBOARD_KEYS` order; lists and dicts as compact JSON strings."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEADERBOARD_KEYS)
    for row in rows:
        writer.writerow("" if row.get(k) is None else _csv_cell(row[k]) for k in LEADERBOARD_KEYS)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"))
    return value


class RunFolder:
    """The files of one search run (see the module docstring), read and written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config = path / "config.json"
        self.searcher_state = path / "searcher_state.json"
        self.optuna_db = path / "optuna.db"
        self.trials_jsonl = path / "trials.jsonl"
        self.trials_csv = path / "trials.csv"
        self.stats_jsonl = path / "searcher_stats.jsonl"
        self.best_genotype = path / "best_genotype.json"
        self.ray_dir = path / "ray"

    def is_run(self) -> bool:
        """A run is a folder whose ``config.json`` was written by `nas search`."""
        return self.config.is_file()

    def trials(self) -> list[dict[str, Any]]:
        return read_jsonl(self.trials_jsonl)

    def add_trial(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Append one child's row (JSONL, CSV) and refresh ``best_genotype.json``; return all rows.

        The JSONL is written first: it is the source of truth, the CSV a view of it.
        """
        missing = set(LEADERBOARD_KEYS) ^ set(row)
        if missing:
            raise ValueError(f"leaderboard row keys differ from LEADERBOARD_KEYS: {sorted(missing)}")
        append_jsonl(self.trials_jsonl, row)
        rows = self.trials()
        atomic_write_text(self.trials_csv, leaderboard_csv(rows))
        best = best_trial(rows)
        if best is not None and best["trial_id"] == row["trial_id"]:
            atomic_write_text(self.best_genotype, json.dumps(best["genotype"], indent=2) + "\n")
        return rows


def best_trial(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The completed row with the highest validation accuracy (the earliest on a tie)."""
    completed = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
    return max(completed, key=lambda r: float(r["val_accuracy"]), default=None)
