"""A damaged run folder is refused before Ray starts, with what is wrong and how to repair it.

The run folders here are written the way a search writes them (real searcher, real rows through
`nas.search.tune_adapter.leaderboard_row`, `RunFolder.add_trial`), then damaged as a disk, an editor or
a careless copy would. ``nas search --resume`` must answer with one line and exit code 2, leave every
file as it was, and never restart over, drop or forget a completed child. A torn last line is the one
repair made automatically: its child is rerun when the searcher still holds it outstanding, or its row
restored from ``trials.csv`` when the searcher was told already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nas.cli.main import main
from nas.results.run_folder import RunFolder, check_history, read_json, write_json
from nas.search.runner import open_run
from nas.search.searcher import create_searcher
from nas.search.settings import SearchSettings
from nas.search.tune_adapter import leaderboard_row, replay_told
from nas.searcher.base import Searcher
from search_spaces import get_space
from tests.cli_errors import assert_one_line_error

BLOCKS = 2
NAS = [sys.executable, "-m", "nas.cli"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _searcher() -> Searcher:
    return create_searcher("evolution", get_space("nasnet", num_blocks=BLOCKS), seed=0)


def make_run(tmp_path: Path, cifar_dir: Path, *, told: int, outstanding: int = 0) -> RunFolder:
    """A run as a search leaves it: ``told`` children on the leaderboard and told, ``outstanding``
    asked and running; the searcher state saved after the last of them."""
    settings = SearchSettings(
        searcher="evolution", blocks=BLOCKS, name="run", results_dir=str(tmp_path), data_dir=str(cifar_dir)
    )
    run = open_run(settings)
    searcher = _searcher()
    proposals = [searcher.ask() for _ in range(told + outstanding)]
    for index, proposal in enumerate(proposals[:told]):
        accuracy = 0.1 + index / 100
        result = {
            "status": "completed",
            "val_accuracy_history": [accuracy],
            "best_val_accuracy": accuracy,
            "params": 1000 + index,
        }
        row = leaderboard_row(proposal, result, error=False, index=index, searcher="evolution")
        run.add_trial(row)
        searcher.tell(proposal.trial_id, row.to_trial_result())
    write_json(run.searcher_state, searcher.state_dict())
    run.write_csv()  # as a search leaves it at its end (the CSV is not written per child)
    return run


def _snapshot(run: RunFolder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}


def _resume(run: RunFolder, cifar_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["search", "--resume", str(run.path), "--data-dir", str(cifar_dir), "--wandb", "disabled"])
    return assert_one_line_error(code, capsys.readouterr().err, "")


def _garbage_middle_line(run: RunFolder) -> None:
    lines = run.trials_jsonl.read_text().splitlines()
    lines[1] = '{"index": 1, "trial_id": garbage'
    run.trials_jsonl.write_text("\n".join(lines) + "\n")


def _other_state() -> dict[str, Any]:
    searcher = _searcher()
    searcher.ask()
    return searcher.state_dict()


def _tear(run: RunFolder) -> str:
    text = run.trials_jsonl.read_text()
    last = text.splitlines()[-1]
    run.trials_jsonl.write_text(text[: len(text) - len(last) // 2 - 1])
    return last


def _tear_without_csv(run: RunFolder) -> None:
    _tear(run)
    run.trials_csv.unlink()


DAMAGE = {
    "garbage middle line": (_garbage_middle_line, "trials.jsonl:2: not a JSON object", "trials.csv holds"),
    "row missing keys": (
        lambda run: run.trials_jsonl.write_text('{"index": 0}\n' + run.trials_jsonl.read_text()),
        "trials.jsonl:1: not a leaderboard row",
        "restore the file",
    ),
    "garbage searcher state": (
        lambda run: run.searcher_state.write_text("{garbage"),
        "searcher_state.json: not readable JSON",
        "cannot be rebuilt",
    ),
    "searcher state a list": (
        lambda run: run.searcher_state.write_text("[1, 2]"),
        "not a searcher state",
        "restore it",
    ),
    "searcher state missing": (
        lambda run: run.searcher_state.unlink(),
        "searcher_state.json is missing",
        "restore",
    ),
    "config a list": (
        lambda run: run.config.write_text("[1, 2]"),
        "expected a JSON object of settings, got a list",
        "restore it",
    ),
    "config not JSON": (
        lambda run: run.config.write_bytes(b"\xff\xfe"),
        "config.json: not valid JSON",
        "restore",
    ),
    "emptied leaderboard": (
        lambda run: run.trials_jsonl.write_text(""),
        "holds 0 children but searcher_state.json says 3 were told",
        "emptied or replaced",
    ),
    "leaderboard of another run": (
        lambda run: write_json(run.searcher_state, _other_state()),
        "does not know child(ren)",
        "another run",
    ),
    "torn last line, csv gone": (_tear_without_csv, "the last line is torn", "would be lost"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_folder_is_refused_before_ray(
    damage: str, tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, cifar_dir, told=3)
    apply, what, how = DAMAGE[damage]
    apply(run)
    before = _snapshot(run)
    line = _resume(run, cifar_dir, capsys)
    assert what in line and how in line, line
    assert _snapshot(run) == before  # refused means untouched: nothing repaired behind the user's back
    assert not run.ray_dir.exists()  # before Ray: no attempt was started


def test_torn_last_line_of_a_running_child_is_dropped_and_the_child_rerun(
    tmp_path: Path, cifar_dir: Path
) -> None:
    """The kill fell inside the append of child 2's row: the searcher still holds it outstanding, so
    the repair drops the torn line and the resume reruns child 2 under its proposal id."""
    run = make_run(tmp_path, cifar_dir, told=2, outstanding=1)
    state = read_json(run.searcher_state)
    outstanding = dict(state["ledger"]["outstanding"])
    run.trials_jsonl.write_text(run.trials_jsonl.read_text() + '{"index": 2, "trial_id": "2", "geno')
    note = check_history(run)
    assert note is not None and "rerun" in note
    assert [r.trial_id for r in run.trials()] == ["0", "1"]
    assert (run.path / "trials.jsonl.torn").read_text().startswith('{"index": 2')
    searcher = _searcher()
    searcher.load_state_dict(state)
    told, rerun = replay_told(searcher, run.trials())
    assert told == [] and [(p.trial_id, list(p.choices)) for p in rerun] == list(outstanding.items())
    assert check_history(run) is None  # repaired once, whole since


def test_torn_last_line_of_a_told_child_is_restored_from_the_csv(tmp_path: Path, cifar_dir: Path) -> None:
    """The searcher learned from child 2 already: its row comes back from trials.csv, typed as it was."""
    run = make_run(tmp_path, cifar_dir, told=3)
    original = run.trials()
    _tear(run)
    note = check_history(run)
    assert note is not None and "restored from trials.csv" in note
    assert run.trials() == original


@pytest.mark.slow
def test_resume_after_a_torn_last_line_loses_no_child(tmp_path: Path, cifar_dir: Path) -> None:
    """End to end with real Ray: two children trained, the leaderboard's last line torn, the search
    resumed: the torn child is back, whole, and is neither lost nor counted as a child still to train."""
    tiny = [
        "--space",
        "nasnet",
        "--N",
        "1",
        "--C",
        "4",
        "--blocks",
        "2",
        "--epochs",
        "1",
        "--searcher",
        "random",
    ]
    tiny += ["--train-size", "256", "--val-size", "128", "--batch-size", "64", "--wandb", "disabled"]
    common = [*tiny, "--data-dir", str(cifar_dir), "--results-dir", "res", "--name", "t", "--json"]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }

    def search(trials: int) -> subprocess.CompletedProcess[str]:
        args = [*NAS, "search", *common, "--trials", str(trials), "--max-concurrent", "2"]
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)

    first = search(2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr == ""  # --json: Ray's own lines went to driver.log
    run = RunFolder(tmp_path / "res" / "t")
    original = run.trials()
    _tear(run)
    second = search(2)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "restored from trials.csv" in second.stderr
    assert json.loads(second.stdout)["trials_done"] == 2
    assert run.trials() == original
