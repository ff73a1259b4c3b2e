"""A local `nas search` (no ``--address``) never trips over another Ray on the machine (issue 28).

Ray users keep a head running (``ray start --head``), a killed head leaves its
``ray_current_cluster`` file behind, ``$RAY_ADDRESS`` often names a job server, and two searches may
run at once: in each case a local search starts a Ray instance of its own (`nas.search.cluster.connect`).
Each test gives Ray its own ``RAY_TMPDIR``, so the cluster file it plants or the head it starts is
seen by its searches as ``/tmp/ray/...`` would be, and by no one else's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.nas_cli import NAS, TINY_SEARCH, check_leaderboard, search_env
from tests.ray_head import free_ports, listening, ray_head

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Foreign:
    env: dict[str, str]  # with RAY_TMPDIR: a plain ray.init() of these finds the head
    address: str
    session: Path  # the head's session folder: a driver that joins it logs there


def _short_tmp(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # Ray's socket paths have a length limit


@pytest.fixture(scope="module")
def foreign() -> Iterator[Foreign]:
    """Someone else's ``ray start --head``, the machine's current cluster."""
    (port,) = free_ports(1)
    tmp = _short_tmp("rayf")
    env = search_env({"RAY_TMPDIR": str(tmp)})
    current = tmp / "ray" / "ray_current_cluster"
    args = [f"--port={port}", "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false"]
    with ray_head(args, env, tmp, lambda: current.is_file() and listening(port)):
        yield Foreign(env, current.read_text().strip(), (tmp / "ray" / "session_latest").resolve())


def _search(name: str, cwd: Path, data: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    args = [NAS, "search", *TINY_SEARCH, "--searcher", "random", "--trials", "1", "--data-dir", str(data)]
    args += ["--results-dir", "res", "--name", name]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    return err


def _drivers(session: Path) -> set[str]:
    return {p.name for p in (session / "logs").glob("python-core-driver-*")}


def test_beside_a_running_head_two_searches_at_once_each_start_their_own(
    foreign: Foreign, tmp_path: Path, cifar_dir: Path
) -> None:
    """Was: ``ValueError: When connecting to an existing cluster, num_cpus and num_gpus must not be provided``."""
    before = _drivers(foreign.session)
    both = [_search(name, tmp_path, cifar_dir, foreign.env) for name in ("a", "b")]
    for proc in both:
        _finished(proc)
    for name in ("a", "b"):
        check_leaderboard(tmp_path / "res" / name, trials=1, searcher="random")
    assert _drivers(foreign.session) == before  # neither joined the head
    current = Path(foreign.env["RAY_TMPDIR"]) / "ray" / "ray_current_cluster"
    assert current.read_text().strip() == foreign.address  # and the head is still the machine's


def test_a_stale_cluster_file_and_RAY_ADDRESS_do_not_redirect_a_local_search(
    tmp_path: Path, cifar_dir: Path
) -> None:
    """A killed head's ``ray_current_cluster`` names a dead address (was: a crash until the file was
    found and deleted); a ``$RAY_ADDRESS`` outside a Ray job is ignored, in one warning line."""
    dead, job_server = free_ports(2)
    tmp = _short_tmp("rays")
    try:
        (tmp / "ray").mkdir()
        (tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{dead}")
        env = search_env({"RAY_TMPDIR": str(tmp), "RAY_ADDRESS": f"http://127.0.0.1:{job_server}"})
        env.pop("RAY_JOB_CONFIG_JSON_ENV_VAR", None)
        err = _finished(_search("s", tmp_path, cifar_dir, env))
        check_leaderboard(tmp_path / "res" / "s", trials=1, searcher="random")
        warned = [line for line in err.splitlines() if "RAY_ADDRESS" in line]
        assert len(warned) == 1 and "--address auto" in warned[0], err[-3000:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
