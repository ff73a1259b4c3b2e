"""`nas search --weight-sharing` end to end: real local Ray, real CIFAR-10, each searcher, kill -9 and
resume, bad flag combinations. Sizes are tiny (N=1, C=4, B=2, 64 training images); the candidates'
successive halving is 4 on 32 images, then the best 2 on all 64 (`tests/search/test_ws_halving.py`)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from bench.processes import kill_9
from nas.results.report import kendall_tau
from nas.results.run_folder import read_jsonl
from tests.nas_cli import NAS, check_leaderboard, nas_search, search_env
from tests.processes import wait_for_lines

WS = ["--weight-sharing", "--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2"]
WS += ["--train-size", "64", "--val-size", "64", "--batch-size", "32", "--wandb", "disabled"]
WS += ["--ws-controller-steps", "2", "--ws-archs-per-step", "2", "--ws-reward-batch", "32"]
WS += ["--ws-candidates", "4", "--verify-top", "2", "--max-concurrent", "2"]


def check_run(run_dir: Path, *, searcher: str, epochs: int) -> None:
    """The stage's files and the verified children: the top-scored candidates, each trained once."""
    epoch_rows = read_jsonl(run_dir / "supernet" / "epochs.jsonl")
    assert [r["epoch"] for r in epoch_rows] == list(range(1, epochs + 1))
    scores = read_jsonl(run_dir / "ws_scores.jsonl")
    searched = [r for r in scores if r["stage"] == "search"]
    assert [r["epoch"] for r in searched] == [e for e in range(1, epochs + 1) for _ in range(4)]
    assert all(r["images"] == 32 and 0.0 <= r["accuracy"] <= 1.0 for r in searched)
    screen = [r for r in scores if r["stage"] == "screen"]  # successive halving: all on 32 images,
    final = [r for r in scores if r["stage"] == "final"]  # the best --verify-top 2 on the whole split
    candidates = json.loads((run_dir / "supernet" / "candidates.json").read_text())
    assert sorted(r["index"] for r in screen) == list(range(len(candidates))) and len(candidates) >= 2
    assert all(r["images"] == 32 and r["rung"] == 0 for r in screen)
    screen_best = sorted(screen, key=lambda r: (-r["accuracy"], r["index"]))[:2]
    assert sorted(r["index"] for r in final) == sorted(r["index"] for r in screen_best)
    assert all(r["images"] == 64 and r["rung"] == 1 for r in final)
    state = torch.load(run_dir / "supernet" / "checkpoint.pt", weights_only=True)
    assert state["training"]["epoch"] == epochs
    assert (run_dir / "supernet" / f"searcher-{epochs}.json").exists()

    rows = check_leaderboard(run_dir, trials=2, searcher=searcher)
    best_first = sorted(final, key=lambda r: (-r["accuracy"], r["index"]))
    rows.sort(key=lambda r: r["trial_id"])  # children finish in any order; v<i> is the i-th best
    assert [r["trial_id"] for r in rows] == ["v0", "v1"]
    assert [r["genotype"] for r in rows] == [r["genotype"] for r in best_first[:2]]


@pytest.mark.slow
def test_weight_sharing_search_verifies_its_best_candidates(tmp_path: Path, cifar_dir: Path) -> None:
    """ENAS (rl: its own path sampler); tpe (a searcher bound to the run folder: its Optuna study) is
    the kill -9 test's below, RSWS (random, the uniform default) `bench/weight_sharing.py`'s test's."""
    searcher = "rl"
    args = [*WS, "--searcher", searcher, "--epochs", "2", "--seed", "1", "--json"]
    done = nas_search(*args, data=cifar_dir, results=tmp_path, name="w", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["trials_done"] == 2 and summary["supernet_epochs"] == 2
    assert summary["candidates_scored"] >= 2 and 0.0 <= summary["best_ws_score"] <= 1.0
    check_run(tmp_path / "w", searcher=searcher, epochs=2)
    # The report's scatter of shared-weight score vs stand-alone accuracy.
    report = subprocess.run(
        [NAS, "report", str(tmp_path / "w"), "--json"], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert "report_images/shared_weights.png" in json.loads(report.stdout)["images"]
    assert "Kendall tau" in (tmp_path / "w" / "report.md").read_text()


@pytest.mark.slow
def test_kill_9_in_the_supernet_stage_then_resume(tmp_path: Path, cifar_dir: Path) -> None:
    results = tmp_path / "results"
    run_dir = results / "k"
    epochs = 6  # the kill comes within 0.2 s of epoch 1's line; an epoch takes seconds, loaded or idle
    args = [*WS, "--searcher", "tpe", "--epochs", str(epochs), "--quiet", "--data-dir", str(cifar_dir)]
    args += ["--results-dir", str(results), "--name", "k"]
    proc = subprocess.Popen(
        [NAS, "search", *args], cwd=tmp_path, env=search_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_lines(run_dir / "supernet" / "epochs.jsonl", 1, proc, timeout=400)
        kill_9(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed_at = len(read_jsonl(run_dir / "supernet" / "epochs.jsonl"))
    assert 1 <= killed_at < epochs and not (run_dir / "trials.jsonl").exists()

    done = nas_search("--resume", str(run_dir), "--json", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["resumed"] is True
    check_run(run_dir, searcher="tpe", epochs=epochs)

    again = nas_search("--resume", str(run_dir), "--json", cwd=tmp_path, timeout=600)  # all done: no work
    assert again.returncode == 0, again.stderr[-3000:]
    check_run(run_dir, searcher="tpe", epochs=epochs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verify-top", "3"], "--verify-top only apply with --weight-sharing"),
        (["--ws-candidates", "9", "--ws-reward-batch", "8"], "--ws-candidates, --ws-reward-batch only apply"),
        (["--weight-sharing", "--trials", "4"], "--trials counts stand-alone children"),
        (
            ["--weight-sharing", "--verify-top", "5", "--ws-candidates", "2"],
            "--verify-top must be in 0..--ws",
        ),
        (["--weight-sharing", "--ws-reward-batch", "600", "--val-size", "512"], "exceeds --val-size 512"),
        (["--weight-sharing", "--ws-archs-per-step", "0"], "--ws-archs-per-step must be >= 1"),
    ],
)
def test_bad_flag_combinations_are_one_line_errors(
    args: list[str], message: str, tmp_path: Path, cifar_dir: Path
) -> None:
    done = nas_search(*args, data=cifar_dir, results=tmp_path, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("nas: error: ") and message in done.stderr
    assert not list(tmp_path.glob("*/config.json"))


def test_kendall_tau_matches_hand_counts() -> None:
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)  # tau-b: 4 / sqrt(5 * 5)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
