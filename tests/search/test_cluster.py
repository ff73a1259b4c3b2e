"""A real Ray cluster on loopback: `nas search --address` joins it, `nas submit` runs a search on it as a job.

The head is ``ray start --head --block`` on free ports, every address 127.0.0.1, in its own temp dir so
that nothing here finds or touches another Ray instance; it is ended by its pid (`tests.ray_head`). Ray
rewrites a loopback address into the machine's interface address unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, so the head, the CLI and the job all run with it.

Token authentication is as Ray 2.60 has it by default: the head runs with ``RAY_AUTH_MODE`` unset and a
token available (``RAY_AUTH_TOKEN``, as https://docs.ray.io/en/latest/ray-security/token-auth.html
hands it over), so it requires the token; the CLI gets ``RAY_AUTH_MODE=token`` and the same token, the
job inherits them from the head. One test runs against a head with authentication off
(``RAY_AUTH_MODE=disabled`` on both sides), and a CLI without the token is refused in one line.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nas.results.run_folder import read_jsonl
from nas.space.genotype import Genotype
from tests.nas_cli import TINY_SEARCH, best_by_score, nas
from tests.ray_head import BIN, cluster_env, free_ports, listening, ray_head

TINY = [*TINY_SEARCH, "--max-concurrent", "2"]
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Head:
    gcs: str  # host:port, for `nas search --address`
    jobs: str  # http://host:port, the dashboard's job server, for `nas submit --address`
    env: dict[str, str]  # the CLI's: with the token when the head wants one


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=2):
            return True
    except urllib.error.HTTPError:  # 401 without the token: it serves
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    """A head with Ray's default token authentication: on, since a token is there."""
    gcs, dashboard, client = free_ports(3)
    token = secrets.token_hex(32)
    temp_dir = Path(tempfile.mkdtemp(prefix="rayh", dir="/tmp"))  # short: Ray's socket paths have a limit
    url = f"http://127.0.0.1:{dashboard}"
    args = [f"--port={gcs}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
            f"--ray-client-server-port={client}", "--num-cpus=2", "--num-gpus=0",
            "--include-dashboard=true", f"--temp-dir={temp_dir}"]  # fmt: skip
    with ray_head(args, cluster_env() | {"RAY_AUTH_TOKEN": token}, temp_dir, lambda: _ready(url)):
        env = cluster_env() | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
        yield Head(gcs=f"127.0.0.1:{gcs}", jobs=url, env=env)


@pytest.fixture(scope="module")
def open_head() -> Iterator[Head]:
    """A head with token authentication off, and no dashboard (starts faster)."""
    (gcs,) = free_ports(1)
    temp_dir = Path(tempfile.mkdtemp(prefix="rayo", dir="/tmp"))
    env = cluster_env() | {"RAY_AUTH_MODE": "disabled"}
    args = [
        f"--port={gcs}",
        "--num-cpus=2",
        "--num-gpus=0",
        "--include-dashboard=false",
        f"--temp-dir={temp_dir}",
    ]
    with ray_head(args, env, temp_dir, lambda: listening(gcs)):
        yield Head(gcs=f"127.0.0.1:{gcs}", jobs="", env=env)


def _nas(head: Head, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return nas(*args, cwd=cwd, env=head.env, timeout=timeout)


def _check_run(run_dir: Path, trials: int) -> None:
    rows = read_jsonl(run_dir / "trials.jsonl")
    assert len(rows) == trials
    completed = [r for r in rows if r["status"] == "completed"]
    assert completed, rows
    assert all(0.0 < r["val_accuracy"] <= 1.0 and r["wall_s"] > 0 for r in completed)
    best = best_by_score(rows)
    assert Genotype.load(run_dir / "best_genotype.json").to_dict() == best["genotype"]


def _search_on(head: Head, tmp_path: Path, cifar_dir: Path, trials: int) -> None:
    args = [*TINY, "--searcher", "evolution", "--trials", str(trials), "--data-dir", str(cifar_dir)]
    args += ["--address", head.gcs, "--results-dir", "res", "--name", "a", "--json"]
    done = _nas(head, "search", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["trials_done"] == trials
    _check_run(tmp_path / "res" / "a", trials)


def test_search_joins_the_cluster_at_its_address(head: Head, tmp_path: Path, cifar_dir: Path) -> None:
    _search_on(head, tmp_path, cifar_dir, 2)


def test_search_joins_a_cluster_without_authentication(
    open_head: Head, tmp_path: Path, cifar_dir: Path
) -> None:
    _search_on(open_head, tmp_path, cifar_dir, 1)


@pytest.mark.parametrize(
    ("command", "given"),
    [("search", {}), ("search", {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "wrong"}), ("submit", {})],
    ids=["search-none", "search-wrong", "submit-none"],
)
def test_a_missing_or_wrong_token_is_one_line(
    head: Head, tmp_path: Path, cifar_dir: Path, command: str, given: dict[str, str]
) -> None:
    """Not Ray's 20 s of retries then "cannot connect": what is missing, and where Ray reads it from."""
    env = {k: v for k, v in head.env.items() if not k.startswith("RAY_AUTH_")} | given
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token of the user's
    where = head.gcs if command == "search" else head.jobs
    args = ["--data-dir", str(cifar_dir)] if command == "search" else ["--status", "raysubmit_x"]
    done = nas(command, "--address", where, *args, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"--address {where}: the cluster requires Ray's token" in done.stderr
    assert "RAY_AUTH_MODE=token" in done.stderr and "RAY_AUTH_TOKEN" in done.stderr


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
    (port,) = free_ports(1)
    done = subprocess.run(
        [str(BIN / "nas"), "submit", "--address", f"http://127.0.0.1:{port}", "--status", "x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
