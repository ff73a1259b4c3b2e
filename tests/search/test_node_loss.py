"""A node lost mid-search: a two-node Ray cluster on loopback, the worker node killed -9 with a child on it.

What a cluster user lives with (issue 28): a machine of the cluster disappears with the children it was
training. The search must finish by itself, every lost child a row of its own -- rerun on the node that
is left when Tune may retry (``--max-failures``), else ``failed`` with the reason -- and no child counted
twice. With Tune's retries (``--max-failures``, default 1) the child reruns; this test keeps the
default. The head (``ray start --head``) and the worker node (``ray start --address``) are real Ray nodes
of one CPU each, on free loopback ports in a temp dir of their own, with token authentication off (the
token path is `test_cluster.py`'s); the worker node is killed by pid (its raylet and the workers below
it), never with ``ray stop``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.processes import cmdline, descendants, kill_family
from nas.results.run_folder import read_jsonl
from nas.space.genotype import Genotype
from tests.nas_cli import NAS, TINY_SEARCH, best_by_score
from tests.ray_head import BIN, cluster_env, free_ports, listening, ray_head

pytestmark = pytest.mark.slow

BUSY_WORKER = "ray::ImplicitFunc"  # a Ray worker running a child (Ray names the process after its task)


def _env() -> dict[str, str]:
    return cluster_env(multi_node=True) | {
        "RAY_AUTH_MODE": "disabled",
        # A dead node is declared dead after health_check_period_ms x failure_threshold: 1 s x 3 here
        # instead of Ray's 3 s x 5, so the test waits seconds, not a quarter of a minute, for it.
        "RAY_health_check_period_ms": "1000",
        "RAY_health_check_failure_threshold": "3",
    }


@pytest.fixture
def head(tmp_path: Path) -> Iterator[str]:
    """A one-CPU head; yields its GCS address."""
    (gcs,) = free_ports(1)
    temp_dir = Path(tempfile.mkdtemp(prefix="rayn", dir="/tmp"))  # short: Ray's socket paths have a limit
    args = [f"--port={gcs}", "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false",
            f"--temp-dir={temp_dir}"]  # fmt: skip
    with ray_head(args, _env(), temp_dir, lambda: listening(gcs)):
        yield f"127.0.0.1:{gcs}"


def _start_worker_node(address: str, log: Path) -> subprocess.Popen[bytes]:
    """``ray start --address --block``, returned once the node has joined (its "block forever" line):
    a search started before that could run every child on the head."""
    (agent_port,) = free_ports(1)
    with log.open("w") as out:
        node = subprocess.Popen(
            [str(BIN / "ray"), "start", f"--address={address}", "--block", "--node-ip-address=127.0.0.1",
             "--num-cpus=1", "--num-gpus=0", f"--dashboard-agent-listen-port={agent_port}"],
            env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while "block forever" not in log.read_text():
        assert node.poll() is None, f"ray start --address exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the worker node did not join in 90 s"
        time.sleep(0.5)
    return node


def _busy_workers(node: subprocess.Popen[bytes]) -> list[int]:
    return [p for p in descendants(node.pid) if BUSY_WORKER in cmdline(p)]


def test_a_lost_worker_node_reruns_its_child_on_the_head_and_the_search_finishes(
    head: str, tmp_path: Path, cifar_dir: Path
) -> None:
    trials = 4
    node = _start_worker_node(head, tmp_path / "node.log")
    search_log = (tmp_path / "search.out").open("w")
    search = subprocess.Popen(
        [NAS, "search", *TINY_SEARCH, "--searcher", "random", "--trials", str(trials), "--seed", "0",
         "--max-concurrent", "2", "--address", head, "--data-dir", str(cifar_dir),
         "--results-dir", "res", "--name", "lost", "--json"],
        cwd=tmp_path, env=_env(), stdout=search_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not _busy_workers(node):  # a child is training on the worker node
            assert search.poll() is None, (tmp_path / "search.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "no child ever ran on the worker node"
            time.sleep(0.2)
        family = descendants(node.pid)
        os.killpg(node.pid, signal.SIGKILL)  # the node: `ray start`, its raylet and its workers
        kill_family(family)
        node.wait(timeout=30)
        assert search.wait(timeout=300) == 0, (tmp_path / "search.out").read_text()[-3000:]
    finally:
        for proc in (search, node):
            if proc.poll() is None:
                kill_family(descendants(proc.pid))
                os.killpg(proc.pid, signal.SIGKILL)
        search_log.close()

    final = json.loads((tmp_path / "search.out").read_text().strip().splitlines()[-1])
    assert final["trials_done"] == trials
    rows = read_jsonl(tmp_path / "res" / "lost" / "trials.jsonl")
    assert len(rows) == trials  # every child a row, none twice
    assert len({r["trial_id"] for r in rows}) == trials
    assert len({json.dumps(r["genotype"], sort_keys=True) for r in rows}) == trials
    assert all(r["status"] == "completed" for r in rows), rows
    # Tune's own books: the child on the lost node failed once (the node gone under it) and was rerun
    # on the head (--max-failures 1, the default); every other child ran once.
    (state,) = (tmp_path / "res" / "lost" / "ray").glob("attempt-1/experiment_state-*.json")
    runs: dict[str, int] = {}
    for trial, run in json.loads(state.read_text())["trial_data"]:
        trial, run = json.loads(trial), json.loads(run) if isinstance(run, str) else run
        runs[trial["trial_id"]] = run["num_failures"]
    assert sorted(runs.values()) == [0] * (trials - 1) + [1], runs
    (lost,) = [tune_id for tune_id, failures in runs.items() if failures == 1]
    (trial_dir,) = (tmp_path / "res" / "lost" / "ray" / "attempt-1").glob(f"child-*-{lost}")
    # The actor's node went away: Ray says so as an unavailable RPC, or (when its GCS noticed first)
    # as the node's failed health check; which one depends on timing.
    error = (trial_dir / "error.txt").read_text().lower()
    assert "unavailable" in error or "missing too many heartbeats" in error, error
    best = best_by_score(rows)
    assert Genotype.load(tmp_path / "res" / "lost" / "best_genotype.json").to_dict() == best["genotype"]
