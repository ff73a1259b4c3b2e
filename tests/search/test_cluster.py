"""A real Ray cluster on loopback: `nas search --address` joins it, `nas submit` runs a search on it as a job.

The head is ``ray start --head --block`` on free ports, every address 127.0.0.1, in its own temp dir so
that nothing here finds or touches another Ray instance; it is ended by its pid (never ``ray stop``,
which stops every Ray process of the user). Ray rewrites a loopback address into the machine's
interface address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, so the head, the CLI and the job all
run with it; token authentication is off on both sides (``RAY_AUTH_MODE=disabled``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nas.results.run_folder import read_jsonl
from nas.space.genotype import Genotype
from tests.nas_cli import TINY_SEARCH, nas
from tests.processes import descendants, kill_family

BIN = Path(sys.executable).parent
TINY = [*TINY_SEARCH, "--max-concurrent", "2"]
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Head:
    gcs: str  # host:port, for `nas search --address`
    jobs: str  # http://host:port, the dashboard's job server, for `nas submit --address`
    env: dict[str, str]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    gcs, dashboard, client = _free_ports(3)
    env = os.environ | {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # a job runs the head's `python`
        "RAY_AUTH_MODE": "disabled",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    temp_dir = tempfile.mkdtemp(prefix="rayh", dir="/tmp")  # short: Ray's socket paths have a length limit
    proc = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", f"--ray-client-server-port={client}",
         "--num-cpus=2", "--num-gpus=0", "--include-dashboard=true", f"--temp-dir={temp_dir}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(log := open(Path(temp_dir) / "ray-start.log", "w")),  # noqa: SIM115  # a pipe could fill up
    )  # fmt: skip
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"ray start exited: {Path(log.name).read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/api/version", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the head's job server did not come up in 90 s"
                time.sleep(1)
        yield Head(gcs=f"127.0.0.1:{gcs}", jobs=url, env=env)
    finally:
        family = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        kill_family(family)  # workers and job drivers that outlived it: ours, by pid
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _nas(head: Head, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return nas(*args, cwd=cwd, env=head.env, timeout=timeout)


def _check_run(run_dir: Path, trials: int) -> None:
    rows = read_jsonl(run_dir / "trials.jsonl")
    assert len(rows) == trials
    completed = [r for r in rows if r["status"] == "completed"]
    assert completed, rows
    assert all(0.0 < r["val_accuracy"] <= 1.0 and r["wall_s"] > 0 for r in completed)
    best = max(completed, key=lambda r: r["val_accuracy"])
    assert Genotype.load(run_dir / "best_genotype.json").to_dict() == best["genotype"]


def test_search_joins_the_cluster_at_its_address(head: Head, tmp_path: Path, cifar_dir: Path) -> None:
    args = [*TINY, "--searcher", "evolution", "--trials", "2", "--data-dir", str(cifar_dir)]
    args += ["--address", head.gcs, "--results-dir", "res", "--name", "a", "--json"]
    done = _nas(head, "search", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["trials_done"] == 2
    _check_run(tmp_path / "res" / "a", 2)


def test_submit_runs_the_search_as_a_job(head: Head, tmp_path: Path, cifar_dir: Path) -> None:
    args = ["--address", head.jobs, *TINY, "--searcher", "random", "--trials", "2"]
    args += ["--data-dir", str(cifar_dir)]
    args += ["--results-dir", "res", "--name", "j", "--json"]
    done = _nas(head, "submit", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    submitted = json.loads(done.stdout)
    job, run_dir = submitted["job_id"], tmp_path / "res" / "j"
    assert submitted["run_dir"] == str(run_dir)  # relative paths made absolute for the cluster
    assert "--address auto" in submitted["entrypoint"] and head.jobs not in submitted["entrypoint"]

    followed = _nas(head, "submit", "--address", head.jobs, "--logs", job, "--follow", cwd=tmp_path)
    assert followed.returncode == 0, followed.stdout[-3000:] + followed.stderr[-3000:]
    assert "search done: 2/2 children" in followed.stdout
    assert "[2/2] child " in followed.stdout  # a job's log is no terminal: a line per child, no live view
    status = _nas(head, "submit", "--address", head.jobs, "--status", job, "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["status"] == "SUCCEEDED"
    _check_run(run_dir, 2)
    assert json.loads((run_dir / "config.json").read_text())["address"] == "auto"


def test_submit_wait_reports_a_failed_job_and_stop_of_an_ended_job(head: Head, tmp_path: Path) -> None:
    """A search that fails on the cluster (its data dir is missing there) fails the job, exit 1."""
    args = [*TINY, "--trials", "1", "--data-dir", str(tmp_path / "nowhere")]
    done = _nas(head, "submit", "--address", head.jobs, *args, "--wait", "--json", cwd=tmp_path)
    assert done.returncode == 1
    final = json.loads(done.stdout)
    assert final["status"] == "FAILED"
    assert "CIFAR-10" in done.stderr  # the job's own one-line error, streamed from its logs
    stopped = _nas(head, "submit", "--address", head.jobs, "--stop", final["job_id"], cwd=tmp_path)
    assert stopped.returncode == 0 and "had already ended" in stopped.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "raysubmit_nope"], "raysubmit_nope"),
        (["--searcher", "nope"], "unknown searcher"),
        (["--follow"], "--follow goes with --logs"),
    ],
)
def test_submit_bad_input_is_one_line_and_exit_2(
    head: Head, tmp_path: Path, args: list[str], message: str
) -> None:
    done = _nas(head, "submit", "--address", head.jobs, *args, cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_submit_to_an_unreachable_job_server_is_exit_2(tmp_path: Path) -> None:
    (port,) = _free_ports(1)
    done = subprocess.run(
        [str(BIN / "nas"), "submit", "--address", f"http://127.0.0.1:{port}", "--status", "x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
