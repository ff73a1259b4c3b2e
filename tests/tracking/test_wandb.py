"""W&B tracking, end to end: a real (tiny) Ray Tune experiment logged by real W&B in offline mode.

The offline ``.wandb`` files are read back record by record (W&B's leveldb-style log of
``wandb.proto`` records) so the tests check what ``wandb sync`` would upload, not what we meant
to log. Nothing here may reach the network: ``WANDB_BASE_URL`` points at a closed loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nas.space.genotype import Genotype
from nas.tracking.base import TrackingConfig
from nas.tracking.factory import create_tracker
from tests.wandb_files import RunFile
from tests.wandb_files import read_run as _read_run

pytestmark = pytest.mark.slow

UNROUTABLE = "http://127.0.0.1:9"
GROUP = "search-test"
RL_STATS = [
    {"best_reward": 0.1 * i, "mean_reward": 0.05 * i, "baseline": 0.01 * i, "entropy": 2.0 - 0.1 * i}
    for i in range(3)
]
OP_PROBS = {"sep_conv_3x3": 0.6, "skip_connect": 0.4}


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No key, no network, and W&B's home folders in a temp dir we can check stays empty."""
    home = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WANDB_API_KEY", raising=False)
        mp.delenv("WANDB_MODE", raising=False)
        mp.setenv("WANDB_BASE_URL", UNROUTABLE)
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        for var in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
            mp.setenv(var, str(home / var.lower()))
        yield home


@pytest.fixture(scope="module")
def search_runs(
    offline_env: Path, tmp_path_factory: pytest.TempPathFactory, tiny_genotype: Genotype
) -> dict[str, RunFile]:
    """A tracked three-child Tune experiment (one child crashes) plus three searcher updates."""
    import ray
    import wandb
    from ray import tune

    run_dir = tmp_path_factory.mktemp("run")
    tracker = create_tracker(
        TrackingConfig(mode="auto", group=GROUP, dir=run_dir), searcher_config={"searcher": "rl", "seed": 0}
    )

    def child(config: dict[str, Any]) -> None:
        # Fake numbers, real reports: the shape `nas search` children report in.
        if config["proposal_id"] == "p2":
            raise RuntimeError("child diverged")
        for epoch in range(2):
            tune.report(
                {
                    "epoch": epoch,
                    "val_accuracy": 0.2 + 0.1 * epoch,
                    "train_loss": 2.0 - epoch,
                    "images_per_s": 50.0,
                }
            )
        tune.report({"status": "completed", "params": 1234, "mult_adds": 5678, "error": None})

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tune.Tuner(
            child,
            param_space={
                "genotype": tiny_genotype.to_json(indent=None),
                "N": 1,
                "C": 4,
                "searcher": "rl",
                "seed": 0,
                "proposal_id": tune.grid_search(["p0", "p1", "p2"]),
            },
            # One worker process for all children: each Ray actor start costs seconds on 2 cores.
            tune_config=tune.TuneConfig(reuse_actors=True),
            run_config=tune.RunConfig(
                name="children",
                storage_path=str(run_dir / "tune"),
                callbacks=tracker.tune_callbacks(),
                verbose=0,
            ),
        ).fit()
    finally:
        ray.shutdown()
    for step, stats in enumerate(RL_STATS):
        tracker.log_searcher(step, {**stats, "op_probs": OP_PROBS})
    best = run_dir / "best_genotype.json"
    best.write_text(tiny_genotype.to_json())
    diagram = run_dir / "normal_cell.png"
    diagram.write_bytes(b"\x89PNG\r\n\x1a\n")
    tracker.finish(best_genotype=best, artifacts=[diagram])
    # `finish` returns once the service has the records; on a loaded machine their write to the
    # .wandb file may lag. Shutting the service down (as the process exit would) flushes them.
    wandb.teardown()

    files = sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    return {run.run_id: run for run in map(_read_run, files)}


def _children(runs: dict[str, RunFile]) -> list[RunFile]:
    return [run for run in runs.values() if run.job_type == "child"]


def test_one_offline_run_per_child_in_the_search_group(search_runs: dict[str, RunFile]) -> None:
    children = _children(search_runs)
    assert len(children) == 3
    assert len(search_runs) == 4
    assert {run.group for run in search_runs.values()} == {GROUP}
    assert len({run.run_id for run in children}) == 3


def test_child_config_history_and_summary(search_runs: dict[str, RunFile], tiny_genotype: Genotype) -> None:
    completed = [run for run in _children(search_runs) if run.summary.get("status") == "completed"]
    assert sorted(run.config["proposal_id"] for run in completed) == ["p0", "p1"]
    for run in completed:
        assert Genotype.from_json(run.config["genotype"]) == tiny_genotype
        assert (run.config["N"], run.config["C"], run.config["searcher"], run.config["seed"]) == (
            1,
            4,
            "rl",
            0,
        )
        assert (run.config["params"], run.config["mult_adds"]) == (1234, 5678)
        assert run.series("val_accuracy") == pytest.approx([0.2, 0.3])
        assert run.series("train_loss") == [2.0, 1.0]
        assert run.series("images_per_s") == [50.0, 50.0]
        assert run.summary["best_val_accuracy"] == pytest.approx(0.3)
        assert run.summary["final_val_accuracy"] == pytest.approx(0.3)
        assert run.summary["error"] is None


def test_crashed_child_records_status_and_reason(search_runs: dict[str, RunFile]) -> None:
    (crashed,) = [run for run in _children(search_runs) if run.config["proposal_id"] == "p2"]
    assert crashed.summary["status"] == "error"
    assert "child diverged" in crashed.summary["error"]


def test_searcher_run_history_and_best_genotype_artifact(
    search_runs: dict[str, RunFile], tiny_genotype: Genotype
) -> None:
    (searcher,) = [run for run in search_runs.values() if run.job_type == "searcher"]
    assert searcher.config["searcher"] == "rl"
    for key in ("mean_reward", "baseline", "entropy", "best_reward"):
        assert searcher.series(key) == pytest.approx([stats[key] for stats in RL_STATS])
    for op, prob in OP_PROBS.items():
        assert searcher.series(f"op_prob/{op}") == [prob] * 3
    assert searcher.artifacts == [
        ("genotype", f"{GROUP}-best-genotype", ["best_genotype.json", "best_genotype.png", "normal_cell.png"])
    ]  # the genotype, its diagram drawn at finish, and a file the caller passed
    assert Genotype.from_json(searcher.summary["best_genotype"]) == tiny_genotype


def test_offline_artifacts_are_not_staged_in_the_home_folder(
    search_runs: dict[str, RunFile], offline_env: Path
) -> None:
    # Staged copies would live in $WANDB_DATA_DIR until a `wandb sync` that may never come.
    # (W&B's service still writes its own debug log under $WANDB_CACHE_DIR; that is not run data.)
    assert [p for p in (offline_env / "wandb_data_dir").rglob("*") if p.is_file()] == []


def test_auto_mode_is_offline_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert TrackingConfig(mode="auto").resolved_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert TrackingConfig(mode="auto").resolved_mode() == "online"


def _python(code: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (cold imports, own W&B service); it prints JSON last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_BASE_URL=UNROUTABLE, WANDB_DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout.splitlines()[-1]))


def test_tracker_lifecycle_never_waits_on_the_network(tmp_path: Path) -> None:
    result = _python(
        """
        import json
        from pathlib import Path
        from nas.tracking.base import TrackingConfig
        from nas.tracking.factory import create_tracker

        tracker = create_tracker(TrackingConfig(mode="auto", dir=Path("run")), searcher_config={})
        tracker.tune_callbacks()
        for step in range(3):
            tracker.log_searcher(step, {"best_reward": 0.5, "op_probs": {"conv_3x3": 1.0}})
        Path("run/best.json").write_text("{}")
        tracker.finish(best_genotype=Path("run/best.json"))
        print(json.dumps({"mode": tracker.mode}))
        """,
        tmp_path,
    )
    assert result["mode"] == "offline"
    assert len(list((tmp_path / "run" / "wandb").glob("offline-run-*/*.wandb"))) == 1


def test_disabled_tracking_imports_no_wandb(tmp_path: Path) -> None:
    result = _python(
        """
        import json, sys
        from pathlib import Path
        from nas.tracking.base import TrackingConfig
        from nas.tracking.factory import create_tracker

        tracker = create_tracker(TrackingConfig(mode="disabled", dir=Path("run")), searcher_config={})
        assert tracker.tune_callbacks() == []
        tracker.log_searcher(0, {"best_reward": 0.5})
        tracker.finish(best_genotype=None)
        print(json.dumps({"loaded": sorted(m for m in sys.modules if m.split(".")[0] == "wandb"
                                           or m == "nas.tracking.wandb_runs")}))
        """,
        tmp_path,
    )
    assert result["loaded"] == []
    assert not (tmp_path / "run").exists()


def test_real_search_logs_every_child_and_the_searcher(cifar_dir: Path, tmp_path: Path) -> None:
    """`nas search --wandb offline` end to end: a run per child with its size and searcher in the
    config, the RL controller's reward/entropy per update (a batch of 2 children per update), and the
    best genotype with its cell diagram as an artifact."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_BASE_URL=UNROUTABLE, WANDB_DATA_DIR=str(tmp_path / "data"), RAY_USAGE_STATS_ENABLED="0")
    args = ["--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2", "--epochs", "1"]
    args += ["--train-size", "256", "--val-size", "128", "--batch-size", "64", "--searcher", "rl"]
    args += ["--searcher-option", "batch_size=2", "--trials", "4", "--max-concurrent", "2", "--seed", "1"]
    args += [
        "--wandb",
        "offline",
        "--quiet",
        "--data-dir",
        str(cifar_dir),
        "--results-dir",
        "res",
        "--name",
        "s",
    ]
    subprocess.run(
        [sys.executable, "-m", "nas.cli.main", "search", *args],
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=True,
    )
    run_dir = tmp_path / "res" / "s"
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    runs = [_read_run(p) for p in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))]
    children = [run for run in runs if run.job_type == "child"]
    assert len(trials) == 4
    assert len(children) == 4
    assert {run.group for run in runs} == {"s"}
    logged = sorted(json.dumps(json.loads(run.config["genotype"])["normal"]) for run in children)
    assert logged == sorted(json.dumps(t["genotype"]["normal"]) for t in trials)
    for run in children:
        assert (run.config["N"], run.config["C"], run.config["searcher"], run.config["seed"]) == (
            1,
            4,
            "rl",
            1,
        )
        assert run.summary["status"] in ("completed", "failed", "rejected", "error")
        if run.summary["status"] == "completed":
            assert len(run.series("val_accuracy")) == 1 and run.config["params"] > 0
    (searcher,) = [run for run in runs if run.job_type == "searcher"]
    assert len(searcher.series("best_reward")) == 4
    assert sorted(set(searcher.series("updates"))) == [0, 1, 2]  # one update per two children told
    assert all(entropy > 0 for entropy in searcher.series("entropy"))
    assert searcher.series("mean_reward")
    ((kind, _, files),) = searcher.artifacts
    assert kind == "genotype" and {"best_genotype.json", "best_genotype.png"} <= set(files)


def test_a_nas_bench_201_search_logs_its_cell_diagram(nb201_table_path: Path, tmp_path: Path) -> None:
    """The best genotype's diagram is drawn for either space: an NB201 cell (an arch string) was once
    read as a NASNet genotype at finish, which failed with a warning and logged no diagram."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_BASE_URL=UNROUTABLE, WANDB_DATA_DIR=str(tmp_path / "data"), RAY_USAGE_STATS_ENABLED="0")
    args = ["--space", "nas-bench-201", "--benchmark", str(nb201_table_path), "--searcher", "random"]
    args += ["--trials", "4", "--wandb", "offline", "--quiet", "--results-dir", "res", "--name", "t"]
    done = subprocess.run(
        [sys.executable, "-m", "nas.cli.main", "search", *args],
        env=env,
        cwd=tmp_path,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no cell diagram" not in done.stderr
    run_dir = tmp_path / "res" / "t"
    runs = [_read_run(p) for p in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))]
    (searcher,) = [run for run in runs if run.job_type == "searcher"]
    ((kind, _, files),) = searcher.artifacts
    assert kind == "genotype" and {"best_genotype.json", "best_genotype.png"} <= set(files)
    assert json.loads(searcher.summary["best_genotype"])["space"] == "nas-bench-201"
