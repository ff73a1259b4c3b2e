"""NAS-Bench-201 searches end to end (issue 23): real ``nas search`` subprocesses on real local Ray.

One slow module, sharing work: a tabular search per searcher (rl at 200 children, killed with -9
mid-run and resumed, since the controller repeats itself most, with ``--retrain-duplicates
--max-samples 2``; the others at 30, duplicates told, evolution twice to
see the seed give the same children with two at a time), and one trained
search with ``--benchmark --train`` whose report has the table scatter.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.chaos import audit, ended_early
from nas.results.run_folder import read_jsonl
from nas.space.nb201_table import load_table
from tests.nas_cli import NAS, nas, nas_search, search_env
from tests.processes import kill_9_after_lines

TABULAR = ["--space", "nas-bench-201", "--wandb", "disabled", "--quiet"]


def check_tabular_run(
    run_dir: Path, *, trials: int, table: Path, ended: int | None = None, max_samples: int = 1
) -> list[dict[str, Any]]:
    """Every child answered from the table; duplicates told (never trained), each naming an earlier row
    of the same cell; no cell evaluated twice; the searcher told every row (`bench/chaos.py`'s audit,
    with no child failed). ``ended``: the children the search said it ended with, its searcher
    proposing only cells it had evaluated. ``max_samples``: ``--max-samples`` of a search with
    ``--retrain-duplicates`` (each cell trained at most that often). Returns the rows."""
    found = audit(run_dir, trials, table, ended_early=ended, max_samples=max_samples)
    assert found.problems == [] and found.failed == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["benchmark"] == str(table)
    return read_jsonl(run_dir / "trials.jsonl")


@pytest.mark.slow
def test_tabular_search_with_every_searcher_and_a_kill_9(tmp_path: Path, nb201_table_path: Path) -> None:
    results = tmp_path / "results"
    run_dir = results / "rl"
    args = [*TABULAR, "--benchmark", str(nb201_table_path), "--searcher", "rl", "--trials", "200"]
    args += ["--retrain-duplicates", "--max-samples", "2"]  # a repeat trained once more, then told
    kill_9_after_lines(
        [NAS, "search", *args, "--results-dir", str(results), "--name", "rl"],
        run_dir / "trials.jsonl",
        60,
        cwd=tmp_path,
        env=search_env(),
    )
    done = nas_search("--resume", str(run_dir), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    # The controller may settle before 200 (200 evaluated cells proposed in a row): the search says so.
    ended = ended_early(summary["note"] or "", 200)
    rows = check_tabular_run(run_dir, trials=200, table=nb201_table_path, ended=ended, max_samples=2)
    children = 200 if ended is None else ended
    assert summary["trials_done"] == children and summary["trials_duplicate"] == len(rows) - children
    retrained = sum(r["duplicate_of"] is not None and r["retrained"] for r in rows)
    assert retrained > 0 and summary["trials_duplicate"] > 0  # repeats trained to 2 samples, then told
    report = nas("report", str(run_dir), "--out", str(tmp_path / "rl-report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "| samples | cell score |" in (tmp_path / "rl-report" / "report.md").read_text()  # the ranking's
    children: dict[str, list[tuple[str, str, float, str | None]]] = {}
    # random's tabular search: tests/bench/test_chaos_bench.py; evolution twice, the same seed
    for name, searcher in (("tpe", "tpe"), ("evolution", "evolution"), ("again", "evolution")):
        args = [*TABULAR, "--benchmark", str(nb201_table_path), "--searcher", searcher, "--trials", "30"]
        done = nas_search(*args, "--json", cwd=tmp_path, results=results, name=name)
        assert done.returncode == 0, done.stderr[-3000:]
        rows = check_tabular_run(results / name, trials=30, table=nb201_table_path)
        children[name] = sorted(
            (r["trial_id"], r["arch"], r["val_accuracy"], r["duplicate_of"]) for r in rows
        )
    # Two children at a time, told in ask order (the CPU default): the same seed, the same children.
    assert children["again"] == children["evolution"]


@pytest.mark.slow
def test_trained_search_with_the_table_beside(
    tmp_path: Path, cifar_dir: Path, nb201_table_path: Path
) -> None:
    args = [*TABULAR, "--benchmark", str(nb201_table_path), "--train", "--searcher", "random"]
    args += ["--trials", "4", "--N", "1", "--C", "4", "--train-size", "256", "--val-size", "128"]
    args += ["--batch-size", "64", "--max-concurrent", "2"]
    done = nas_search(*args, cwd=tmp_path, data=cifar_dir, results=tmp_path, name="t")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_jsonl(tmp_path / "t" / "trials.jsonl")
    bench = load_table(nb201_table_path)
    assert len(rows) == 4
    for row in rows:
        assert row["status"] == "completed" and row["wall_s"] > 0 and row["params"] > 0
        assert row["table_accuracy"] == bench.accuracy(row["arch"]) / 100
    best = json.loads((tmp_path / "t" / "best_genotype.json").read_text())
    assert best["space"] == "nas-bench-201" and "arch" in best
    report = nas("report", str(tmp_path / "t"), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Measured accuracy vs the benchmark table" in text and "over n=4 cells (chance band" in text
    assert (tmp_path / "report" / "report_images" / "table_accuracy.png").is_file()
    assert (tmp_path / "report" / "report_images" / "t_best_cells.png").is_file()


@pytest.mark.slow
def test_a_search_scored_untrained_then_selected_by_training(
    tmp_path: Path, cifar_dir: Path, nb201_table_path: Path
) -> None:
    """``--score zero_cost``: every child is scored by the synflow_naswot proxy of its untrained network
    (no epoch trained, no accuracy), the table's accuracy beside it; the selection stage then trains
    the top cells as usual and picks ``best_genotype.json`` by their accuracy; the report plots the
    score against the table."""
    args = [*TABULAR, "--benchmark", str(nb201_table_path), "--train", "--searcher", "evolution"]
    args += ["--score", "zero_cost", "--trials", "6", "--C", "4", "--select-top", "2", "--select-epochs", "1"]
    args += ["--train-size", "256", "--val-size", "128", "--batch-size", "64"]
    done = nas_search(*args, cwd=tmp_path, data=cifar_dir, results=tmp_path, name="z")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_jsonl(tmp_path / "z" / "trials.jsonl")
    search = [r for r in rows if r["stage"] == "search"]
    select = [r for r in rows if r["stage"] == "select"]
    assert len(search) == 6 and len(select) == 2
    for row in search:
        assert row["status"] == "completed" and row["score_by"] == "zero_cost" and row["epochs_done"] == 0
        assert row["val_accuracy"] is None and row["zero_cost"] > 0 and row["params"] > 0
        assert row["score"] == pytest.approx(1 - math.exp(-row["zero_cost"] / 1000))
        assert row["table_accuracy"] is not None
    top = sorted(search, key=lambda r: -r["score"])[:2]
    assert {r["arch"] for r in select} == {r["arch"] for r in top}
    for row in select:  # trained, scored by the default trained score
        assert row["epochs_done"] == 1 and row["val_accuracy"] is not None and row["score_by"] == "val_loss"
    best = json.loads((tmp_path / "z" / "best_genotype.json").read_text())
    chosen = max(select, key=lambda r: r["val_accuracy"])
    assert best["arch"] == chosen["arch"]
    report = nas("report", str(tmp_path / "z"), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "zero_cost score" in report.stdout and "(not trained)" in report.stdout
    text = (tmp_path / "report" / "report.md").read_text()
    assert "over n=6 cells (chance band" in text and "Selection:" in text
