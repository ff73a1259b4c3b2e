"""Running the `nas` command in tests as a user runs it: the installed console script, in a subprocess.

One helper for every test file (``from tests.nas_cli import nas``), and the tiny search flags the
end-to-end tests share: children of N=1, C=4, B=2 on 256 images for one epoch train in seconds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from nas.results.run_folder import LEADERBOARD_KEYS, read_jsonl
from nas.space.genotype import Genotype

NAS = str(Path(sys.executable).with_name("nas"))
"""The console script installed beside this interpreter (the README's ``.venv/bin/nas``)."""

TINY_SEARCH = ["--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2", "--epochs", "1"]
TINY_SEARCH += ["--train-size", "256", "--val-size", "128", "--batch-size", "64", "--wandb", "disabled"]


def search_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, without Ray's usage stats and token prompts, plus ``extra``."""
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **(extra or {})}


def nas(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``nas ARGS...`` with output captured; the timeout bounds any hang (the test fails with it)."""
    return subprocess.run(
        [NAS, *map(str, args)],
        cwd=cwd,
        env=dict(env) if env is not None else search_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def nas_search(
    *args: str,
    cwd: Path,
    data: Path | None = None,
    results: Path | None = None,
    name: str | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``nas search ARGS... [--data-dir DATA] [--results-dir RESULTS] [--name NAME]``, captured."""
    flags = {"--data-dir": data, "--results-dir": results, "--name": name}
    extra = [str(x) for flag, value in flags.items() if value is not None for x in (flag, value)]
    return nas("search", *args, *extra, cwd=cwd, timeout=timeout)


def best_by_score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The completed row the search must call best: the highest score (the earliest of equals), each
    score checked against its figure (`nas.results.trial.score_of`: exp(-loss) for val_loss)."""
    completed = [r for r in rows if r["status"] == "completed"]
    for r in completed:
        if r["score_by"] == "val_loss":
            assert r["score"] == pytest.approx(math.exp(-r["val_loss"]))
        elif r["score_by"] == "val_accuracy":
            assert r["score"] == r["val_accuracy"]
    assert completed, rows
    return max(completed, key=lambda r: r["score"])


def check_leaderboard(
    run_dir: Path, *, trials: int, searcher: str, select: int = 0, select_epochs: int = 1
) -> list[dict[str, Any]]:
    """Rows are complete, ids unique, numbers from real training; ``trials`` of the search stage, then
    ``select`` of the selection stage (``--select-top``, ``select_epochs`` each); returns the rows."""
    rows = read_jsonl(run_dir / "trials.jsonl")
    total = trials + select
    assert len(rows) == total
    assert [r["index"] for r in rows] == list(range(total))
    assert [r["stage"] for r in rows] == ["search"] * trials + ["select"] * select
    assert len({(r["stage"], r["trial_id"]) for r in rows}) == total
    for row in rows:
        assert tuple(row) == LEADERBOARD_KEYS
        assert row["searcher"] == searcher
        Genotype.from_dict(row["genotype"])
        if row["status"] == "completed":
            assert 0.0 < row["val_accuracy"] <= 1.0
            assert row["score"] == best_by_score([row])["score"] and 0.0 < row["score"] <= 1.0
            assert row["params"] > 0 and row["mult_adds"] > 0 and row["wall_s"] > 0
            epochs = 1 if row["stage"] == "search" else select_epochs
            assert len(row["val_accuracy_history"]) == row["epochs_done"] == epochs
            assert row["error"] is None
        elif row["status"] == "stopped":  # by ASHA: the accuracy of fewer epochs, kept apart
            assert row["val_accuracy"] == max(row["val_accuracy_history"]) and row["wall_s"] > 0
            assert "stopped early" in row["error"]
        else:
            assert row["status"] in ("failed", "rejected") and row["val_accuracy"] is None
            assert row["error"]
    csv_lines = (run_dir / "trials.csv").read_text().splitlines()
    assert len(csv_lines) == total + 1
    assert len(read_jsonl(run_dir / "searcher_stats.jsonl")) == trials
    assert len(read_jsonl(run_dir / "select_stats.jsonl")) == select
    json.loads((run_dir / "searcher_state.json").read_text())
    return rows
