"""`nas search` end to end: real local Ray, real CIFAR-10 children, kill -9 and resume, bad input.

Every search runs as a subprocess (``nas search ...``), as a user runs it; children are tiny
(N=1, C=4, B=2, 256 training images, 1 epoch) so each trains in seconds on a CPU.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from nas.results.run_folder import read_jsonl
from nas.space.genotype import Genotype
from tests.nas_cli import NAS, TINY_SEARCH, best_by_score, check_leaderboard, nas_search, search_env
from tests.processes import kill_9_after_lines


@pytest.mark.slow
@pytest.mark.parametrize("searcher", ["tpe"])
def test_search_trains_children_and_writes_the_run_folder(
    searcher: str, tmp_path: Path, cifar_dir: Path
) -> None:
    """tpe (its Optuna study); rl's trained search is the README's main job and the kill test below
    (with NASNet's selection stage), random's the ASHA and rejected-children tests. Evolution's first 6
    children (its population) are random ones, so a 4-child trained search would show nothing more: its
    search is the tabular NAS-Bench-201 one (tests/search/test_nb201_search.py), as is every searcher's."""
    args = [*TINY_SEARCH, "--searcher", searcher, "--trials", "4", "--max-concurrent", "2", "--seed", "1"]
    done = nas_search(*args, "--json", data=cifar_dir, results=tmp_path, name="s", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    run_dir = tmp_path / "s"
    assert summary["run_dir"] == str(run_dir) and summary["trials_done"] == 4
    rows = check_leaderboard(run_dir, trials=4, searcher=searcher)
    completed = [r for r in rows if r["status"] == "completed"]
    assert completed, rows
    best = best_by_score(rows)  # by the default --score, val_loss
    assert best["score_by"] == summary["score_by"] == "val_loss"
    assert (summary["best_val_accuracy"], summary["best_measured"]) == (
        best["val_accuracy"],
        best["val_loss"],
    )
    assert Genotype.load(run_dir / "best_genotype.json").to_dict() == best["genotype"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["searcher"] == searcher and config["trials"] == 4
    assert config["data_dir"] == str(cifar_dir)  # as given: the run folder names no resolved machine path
    assert (run_dir / "optuna.db").exists() == (searcher == "tpe")
    assert (run_dir / "ray" / "attempt-1").is_dir()


@pytest.mark.slow
def test_rejected_children_are_recorded_and_the_search_finishes(tmp_path: Path, cifar_dir: Path) -> None:
    args = [*TINY_SEARCH, "--searcher", "random", "--trials", "3", "--max-params", "10", "--quiet"]
    done = nas_search(*args, data=cifar_dir, results=tmp_path, name="r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("\n") == 1 and "3/3 children" in done.stdout
    rows = check_leaderboard(tmp_path / "r", trials=3, searcher="random")
    assert {r["status"] for r in rows} == {"rejected"}
    assert all("param" in r["error"] for r in rows)
    assert not (tmp_path / "r" / "best_genotype.json").exists()


@pytest.mark.slow
def test_kill_9_then_resume_trains_exactly_the_budget(tmp_path: Path, cifar_dir: Path) -> None:
    """NASNet's selection stage end to end (--select-top 2 --select-seeds 2: the search's 2 best cells
    retrained twice each, rows of stage select, best_genotype.json the best mean), killed after the
    search's 3 children and a selection child: the resume trains the selection's remaining children
    only, and neither stage trains a child twice."""
    results = tmp_path / "results"
    run_dir = results / "k"
    args = [*TINY_SEARCH, "--searcher", "rl", "--trials", "3", "--max-concurrent", "2", "--max-failures", "0"]
    args += ["--quiet", "--score", "train_loss_sum"]  # not the default: the resume must keep it
    args += ["--select-top", "2", "--select-seeds", "2", "--select-epochs", "1"]
    args += ["--data-dir", str(cifar_dir), "--results-dir", str(results), "--name", "k"]
    kill_9_after_lines([NAS, "search", *args], run_dir / "trials.jsonl", 4, cwd=tmp_path, env=search_env())
    before = read_jsonl(run_dir / "trials.jsonl")
    assert 4 <= len(before) < 7 and [r["stage"] for r in before[:4]] == ["search"] * 3 + ["select"]

    done = nas_search("--resume", str(run_dir), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["resumed"] and summary["trials_done"] == 3
    assert summary["select"]["children_done"] == 4 and summary["select"]["cells"] == 2
    rows = check_leaderboard(run_dir, trials=3, searcher="rl", select=4)
    assert rows[: len(before)] == before  # children finished before the kill are kept, not retrained
    assert {r["score_by"] for r in rows} == {"train_loss_sum"} and summary["score_by"] == "train_loss_sum"
    # The RL searcher numbers its proposals 0, 1, 2, ...: all three, each exactly once, none lost; the
    # selection's list numbers its children v0..v3 (2 cells x 2 seeds), each trained once.
    assert sorted(int(r["trial_id"]) for r in rows[:3]) == list(range(3))
    assert sorted(r["trial_id"] for r in rows[3:]) == ["v0", "v1", "v2", "v3"]
    for books, asked in (("searcher_state.json", 3), ("select_state.json", 4)):
        state = json.loads((run_dir / books).read_text())
        assert state["ledger"]["num_asked"] == asked and state["ledger"]["outstanding"] == {}
    assert_selected(run_dir, rows[:3], rows[3:], seeds=2)


def assert_selected(
    run_dir: Path, search: list[dict[str, Any]], select: list[dict[str, Any]], *, seeds: int
) -> None:
    """The selection retrained the search's best distinct cells by score, each ``seeds`` times, and
    best_genotype.json is the cell of the best mean selection accuracy."""
    ranked = sorted(
        (r for r in search if r["status"] == "completed"), key=lambda r: (-r["score"], r["index"])
    )
    top: list[dict[str, Any]] = []
    for row in ranked:
        if all(row["genotype"] != t["genotype"] for t in top):
            top.append(row)
    cells = [t["genotype"] for t in top[:2]]
    assert sorted(json.dumps(r["genotype"], sort_keys=True) for r in select) == sorted(
        json.dumps(c, sort_keys=True) for c in cells for _ in range(seeds)
    )
    means = [sum(a := [r["val_accuracy"] for r in select if r["genotype"] == c]) / len(a) for c in cells]
    winner = cells[means.index(max(means))] if means.count(max(means)) == 1 else None
    chosen = Genotype.load(run_dir / "best_genotype.json").to_dict()
    assert chosen == winner if winner is not None else chosen in cells


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "nope"], "unknown search space"),
        (["--searcher", "nope"], "unknown searcher"),
        (["--trials", "0"], "--trials"),
        (["--trials", "-3"], "--trials"),
        (["--address", "127.0.0.1:1"], "127.0.0.1:1"),
        (["--data-dir", "/nonexistent/cifar"], "CIFAR-10"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, cifar_dir: Path
) -> None:
    data = [] if "--data-dir" in args else ["--data-dir", str(cifar_dir)]
    done = nas_search(  # the subprocess timeout bounds it: bad input must fail before Ray starts
        *TINY_SEARCH, *data, *args, "--results-dir", str(tmp_path), "--quiet", cwd=tmp_path, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was started, so no run folder either


def test_resume_of_a_folder_that_is_not_a_run_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notarun").mkdir()
    done = nas_search("--resume", str(tmp_path / "notarun"), cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "not a search run folder" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_diverging_children_are_failed_rows_and_the_search_finishes(tmp_path: Path, cifar_dir: Path) -> None:
    """A learning rate of 1e9 makes every child's loss non-finite: each is a failed row with its reason."""
    args = [*TINY_SEARCH, "--searcher", "evolution", "--trials", "2", "--lr", "1e9", "--quiet"]
    done = nas_search(*args, data=cifar_dir, results=tmp_path, name="f", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/2 children (0 completed, 0 stopped early, 2 failed, 0 rejected)" in done.stdout
    rows = check_leaderboard(tmp_path / "f", trials=2, searcher="evolution")
    assert all(r["status"] == "failed" and "non-finite loss" in r["error"] for r in rows)
    assert all(r["params"] > 0 for r in rows)  # built and trained, then diverged


@pytest.mark.slow
def test_config_file_with_flag_overrides_and_asha(tmp_path: Path, cifar_dir: Path) -> None:
    """Settings from a TOML file, a flag over it; ASHA may stop children after their first epoch, and
    those are ``stopped``, never ranked with the completed ones."""
    config = tmp_path / "search.toml"
    config.write_text(
        'searcher = "random"\ntrials = 9\nepochs = 2\nscheduler = "asha"\nmax_concurrent = 2\n'
        f'train_size = 256\nval_size = 128\nC = 4\nblocks = 2\nN = 1\nwandb = "disabled"\ndata_dir = "{cifar_dir}"\n'
    )
    results = tmp_path / "results"
    done = nas_search(
        "--config", str(config), "--trials", "4", "--results-dir", str(results), "--name", "c", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((results / "c" / "config.json").read_text())
    assert (saved["trials"], saved["epochs"], saved["scheduler"], saved["searcher"]) == (
        4,
        2,
        "asha",
        "random",
    )
    rows = read_jsonl(results / "c" / "trials.jsonl")
    summary = json.loads(done.stdout)
    assert len(rows) == 4 and summary["trials_done"] == 4
    for row in rows:
        assert row["status"] in ("completed", "stopped")
        assert (
            row["epochs_done"]
            == len(row["val_accuracy_history"])
            == (2 if row["status"] == "completed" else 1)
        )
        assert row["val_accuracy"] == max(row["val_accuracy_history"]) and row["wall_s"] > 0
    assert summary["trials_stopped"] == sum(r["status"] == "stopped" for r in rows)
    completed = [r for r in rows if r["status"] == "completed"]
    best = best_by_score(completed)  # ASHA compared them by their score, as the leaderboard does
    assert summary["best_val_accuracy"] == best["val_accuracy"]  # a stopped child is never the best
    assert all(r["score"] == pytest.approx(math.exp(-r["val_loss"])) for r in rows)  # stopped ones too


def test_unknown_setting_in_config_file_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "search.toml"
    config.write_text("trails = 3\n")
    done = nas_search("--config", str(config), cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "unknown setting(s) trails" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
