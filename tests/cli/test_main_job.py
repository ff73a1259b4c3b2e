"""The main job as a user runs it: the README's command, in a terminal and piped, Ctrl-C and resume.

The README's ``nas search`` line is read from the README itself and run as written (only the data
folder is this machine's, and the budget is cut to ``TEST_BUDGET`` children: the whole 16 took 340-435
s of one test worker, a fifth of the suite; every flag and path of the command runs all the same,
and each session runs the whole command by hand and records it), with W&B at its default (offline
without a key), in a pseudo-terminal so that the live view is on, and again with its output piped
(tiny children). That
``nas train --like`` re-trains a run's child to the same accuracy is tested on a tiny run below.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nas.results.run_folder import read_json, read_jsonl
from tests.nas_cli import best_by_score

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NAS = str(BIN / "nas")
UNROUTABLE = "http://127.0.0.1:9"
TINY = ["--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2", "--epochs", "1"]
TINY += ["--train-size", "256", "--val-size", "128", "--batch-size", "64", "--wandb", "disabled"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TEST_BUDGET = 8  # two of the RL controller's updates (one per 4 children)


def readme_main_command(data_dir: Path) -> list[str]:
    """The command under "## The main job" in the README, data folder and budget aside, as argv."""
    section = (REPO_ROOT / "README.md").read_text().split("## The main job", 1)[1]
    line = next(ln for ln in section.splitlines() if ln.startswith(".venv/bin/nas search "))
    argv = shlex.split(line)
    argv[0] = NAS  # .venv/bin/nas of this checkout: the interpreter running the tests
    argv[argv.index("--data-dir") + 1] = str(data_dir)
    trials = argv.index("--trials") + 1
    argv[trials] = str(min(int(argv[trials]), TEST_BUDGET))
    return argv


def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: no W&B key (so W&B is offline, the default) and no network for it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAY_"))}
    env.update(WANDB_BASE_URL=UNROUTABLE, WANDB_DATA_DIR=str(tmp_path / "wandb-data"))
    env.update(WANDB_CACHE_DIR=str(tmp_path / "wandb-cache"), WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"))
    env.update(RAY_USAGE_STATS_ENABLED="0", COLUMNS="120", LINES="40", TERM="xterm-256color")
    return env


class Terminal:
    """A command in a pseudo-terminal of its own session, as a shell starts it; output is collected."""

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def ctrl_c(self) -> None:
        """What the terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(timeout=30)
        os.close(self._master)
        return code, b"".join(self._chunks).decode(errors="replace")


def run_nas(
    argv: list[str], tmp_path: Path, *, timeout: float, **env: str
) -> subprocess.CompletedProcess[str]:
    """``argv`` as a user runs it from ``tmp_path``, output piped."""
    return subprocess.run(
        argv, cwd=tmp_path, env={**user_env(tmp_path), **env}, capture_output=True, text=True, timeout=timeout
    )


def check_run(run_dir: Path, *, trials: int) -> list[dict[str, object]]:
    rows = read_jsonl(run_dir / "trials.jsonl")
    assert len(rows) == trials
    assert sorted(int(str(r["trial_id"])) for r in rows) == list(range(trials))
    assert all(r["status"] in ("completed", "failed", "rejected") for r in rows)
    assert any(r["status"] == "completed" for r in rows)
    return rows


def only_run(results: Path) -> Path:
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    return run_dir


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_readme_main_command_in_a_terminal(cifar_dir: Path, tmp_path: Path) -> None:
    argv = readme_main_command(cifar_dir)
    budget = int(argv[argv.index("--trials") + 1])
    term = Terminal(argv, cwd=tmp_path, env=user_env(tmp_path))
    code, output = term.wait(timeout=1500)
    screen = ANSI.sub("", output)
    assert code == 0, screen[-4000:]
    assert "Traceback" not in screen and "pickle" not in screen, screen[-4000:]
    assert f"search {budget}/{budget} done" in screen  # the live view was drawn
    assert f"search done: {budget}/{budget} children" in screen
    assert "operation took" not in screen  # Tune's slow-callback warnings: W&B no longer blocks it
    assert "wandb:" not in screen and "WARNING" not in screen  # W&B and Ray stay quiet
    run_dir = only_run(tmp_path / "results")
    rows = check_run(run_dir, trials=budget)
    assert all(r["wall_s"] is not None for r in rows)
    children = [p for p in (run_dir / "wandb").glob("offline-run-*")]
    assert len(children) == budget + 1  # W&B offline, the default: a run per child and the searcher
    assert read_json(run_dir / "best_genotype.json") == best_by_score(rows)["genotype"]

    # The default controller learns within the budget: an update per 4 children.
    state = read_json(run_dir / "searcher_state.json")
    assert state["num_updates"] == budget // 4
    assert len({s["updates"] for s in read_jsonl(run_dir / "searcher_stats.jsonl")}) == budget // 4 + 1


@pytest.mark.slow
def test_piped_output_is_one_plain_line_per_child_and_train_like_reproduces_one(
    cifar_dir: Path, tmp_path: Path
) -> None:
    """The main job's output piped (the terminal test above runs the README's command itself; tiny
    children here, since what is checked is the output, not the children); then ``nas train --like``
    re-trains the found cell with the child's cell, seed, split, sizes and thread count: the same
    accuracy."""
    budget = 3
    args = [*TINY, "--searcher", "rl", "--trials", str(budget), "--max-concurrent", "2"]
    args[args.index("--wandb") + 1] = "auto"  # the default, as in the README's command: offline, quiet
    args += ["--data-dir", str(cifar_dir), "--results-dir", "results", "--name", "l"]
    done = run_nas([NAS, "search", *args], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("\n") == 1 and f"search done: {budget}/{budget} children" in done.stdout
    # Not a terminal: one plain line per child instead of a redrawn view, and none of Ray's chatter.
    lines = done.stderr.splitlines()
    assert "\x1b[" not in done.stderr
    assert len([ln for ln in lines if re.match(r"\[\d+/\d+\] child \d+ ", ln)]) == budget
    assert lines[0].startswith("search: 0/") and len(lines) == budget + 1, done.stderr[-4000:]
    rows = check_run(only_run(tmp_path / "results"), trials=budget)

    best = best_by_score(rows)  # what best_genotype.json holds
    done = run_nas([NAS, "train", "--like", "results/l", "--json"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = json.loads(done.stdout)
    assert trained["val_accuracy"] == pytest.approx(best["val_accuracy"], abs=0.01), (trained, best)
    assert trained["params"] == best["params"]
    done = run_nas([NAS, "train", "--like", "results/nope"], tmp_path, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("nas: error: --like: results/nope")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes_the_budget(cifar_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run_dir = results / "i"
    args = [*TINY, "--searcher", "rl", "--trials", "6", "--max-concurrent", "2", "--seed", "0"]
    args += ["--data-dir", str(cifar_dir), "--results-dir", str(results), "--name", "i"]
    term = Terminal([NAS, "search", *args], cwd=tmp_path, env=user_env(tmp_path))
    deadline = time.monotonic() + 300
    while len(read_jsonl(run_dir / "trials.jsonl")) < 2:
        assert term.proc.poll() is None and time.monotonic() < deadline, "the search ended before Ctrl-C"
        time.sleep(0.2)
    term.ctrl_c()
    code, output = term.wait(timeout=120)
    screen = ANSI.sub("", output)
    assert code == 130, screen[-4000:]
    last = [ln for ln in screen.splitlines() if ln.strip()][-1]
    assert last.strip() == f"nas: interrupted; resume with: nas search --resume {run_dir}", screen[-3000:]
    assert "Tuner.restore" not in screen and "Traceback" not in screen
    before = read_jsonl(run_dir / "trials.jsonl")
    assert 2 <= len(before) < 6
    assert all(r["status"] == "completed" for r in before)  # no child is recorded failed by the interrupt

    resume = [NAS, "search", "--resume", str(run_dir), "--json"]
    done = run_nas(resume, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["trials_done"] == 6
    rows = check_run(run_dir, trials=6)
    assert rows[: len(before)] == before
    # A finished search extended with a larger budget: tests/search/test_warm_start_search.py.


def test_a_run_name_with_other_settings_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from nas.search.settings import SearchSettings

    run_dir = tmp_path / "results" / "x"
    run_dir.mkdir(parents=True)
    saved = SearchSettings(searcher="random", trials=8, name="x", results_dir=str(tmp_path / "results"))
    (run_dir / "config.json").write_text(json.dumps(saved.to_dict()))
    from nas.results.row import TrialRow
    from nas.space.published import PUBLISHED

    genotype = PUBLISHED["nasnet-a"].to_dict()
    rows = [
        TrialRow(i, str(i), genotype, "completed", 0.1, [0.1], 1, 1, 1.0, 1.0, 1, None, "random").to_dict()
        for i in range(8)
    ]
    (run_dir / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = [NAS, "search", "--results-dir", str(tmp_path / "results"), "--quiet"]

    def nas(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    done = nas("--name", "x", "--searcher", "tpe", "--trials", "3")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "searcher is 'random' there, 'tpe' here" in done.stderr and "trials is 8 there" in done.stderr
    done = nas("--resume", str(run_dir), "--seed", "5")
    assert done.returncode == 2 and "seed is 0 there, 5 here" in done.stderr, done.stderr
    done = nas("--resume", str(run_dir), "--trials", "4")
    assert done.returncode == 2 and "already done 8 children" in done.stderr, done.stderr


def test_nothing_handed_to_tune_carries_the_live_view_or_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tune pickles its search algorithm, callbacks and stopper (``tuner.pkl``); with the live view
    running and W&B on, each must pickle, and a copy must do nothing outside this driver."""
    import io
    from types import SimpleNamespace

    from ray import cloudpickle
    from rich.console import Console

    from nas.results.run_folder import RunFolder
    from nas.search.progress import SearchProgress
    from nas.search.searcher import create_searcher
    from nas.search.tune_adapter import StopWhen, TuneSearcherAdapter
    from nas.tracking.base import TrackingConfig
    from nas.tracking.factory import create_tracker
    from search_spaces.nasnet import NasnetSpace

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", UNROUTABLE)
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    progress = SearchProgress(budget=4, rows=[], run_dir=str(run.path), console=console, mode="live")
    tracker = create_tracker(TrackingConfig(mode="offline", group="g", dir=run.path), searcher_config={})
    adapter = TuneSearcherAdapter(
        create_searcher("rl", NasnetSpace(num_blocks=2), seed=0),
        searcher_name="rl",
        run=run,
        budget=4,
        tracker=tracker,
        listeners=[progress.child_done],
        stopping=lambda: False,
    )
    with progress:
        handed = [adapter, StopWhen(lambda: True), progress.tune_callback(), *tracker.tune_callbacks()]
        copies = [cloudpickle.loads(cloudpickle.dumps(obj)) for obj in handed]
        assert progress._live is not None and progress._live.is_started
    tracker.finish(best_genotype=None)
    assert "search 0/4 done" in ANSI.sub("", screen.getvalue())

    adapter_copy, stopper_copy, *callbacks = copies
    assert adapter_copy._tracker.get() is None and adapter_copy._listeners.get() is None
    assert stopper_copy.stop_all() is False  # the predicate stayed in the driver
    trial = SimpleNamespace(trial_id="t0", config={"proposal_id": "0"}, error_file=None)
    for callback in callbacks:  # copies outside the driver are inert
        callback.on_trial_start(0, [], trial)
        callback.on_trial_result(0, [], trial, {"val_accuracy": 0.5})
        callback.on_trial_complete(0, [], trial)
    assert progress.running == 0


def test_a_found_genotype_is_named_after_its_run(
    tmp_path: Path, tiny_genotype: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from nas.cli.main import main
    from nas.space.genotype import Genotype

    assert isinstance(tiny_genotype, Genotype)
    run_dir = tmp_path / "results" / "my-run"
    run_dir.mkdir(parents=True)
    (run_dir / "best_genotype.json").write_text(tiny_genotype.to_json().replace('"name": "tiny",', ""))
    assert Genotype.load(run_dir / "best_genotype.json").name is None  # as `nas search` writes it
    for genotype in (str(run_dir / "best_genotype.json"), str(run_dir)):
        argv = ["transfer", "--genotype", genotype, "--dataset", "cifar10", "--N", "1", "--F", "48"]
        assert main([*argv, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("my-run-best 1 @ 48"), out
