"""A Ray head of a test's own (``ray start --head --block``), on free loopback ports, ended by its pid.

Never ``ray stop``: it stops every Ray process of the user, other tests' and other searches' included.
The head runs in the environment it is given (``RAY_TMPDIR`` decides where its session and its
``ray_current_cluster`` file go); ``ready`` says when it serves.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.processes import descendants, kill_family

BIN = Path(sys.executable).parent


def cluster_env(*, multi_node: bool = False) -> dict[str, str]:
    """This environment for a test's own Ray cluster and the CLI joining it: no inherited token or
    address, this interpreter's ``ray`` and ``python`` first on PATH, no usage stats.

    A single-node cluster keeps 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: Ray otherwise
    rewrites a loopback address into the machine's interface address). That setting also forbids a
    second node, so a ``multi_node`` cluster goes without it and its nodes meet on the interface
    address.
    """
    skip = ("RAY_AUTH_", "RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env |= {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "RAY_USAGE_STATS_ENABLED": "0"}
    return env if multi_node else env | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports nothing listens on now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def ray_head(
    args: Sequence[str], env: Mapping[str, str], temp_dir: Path, ready: Callable[[], bool]
) -> Iterator[None]:
    """``ray start --head --block ARGS`` until the block ends; its log and ``temp_dir`` are removed after."""
    log = open(temp_dir / "ray-start.log", "w")  # noqa: SIM115  # a pipe could fill up
    # The dashboard agent's HTTP port is fixed by default (52365): a second Ray on this machine (another
    # test's local cluster) already holds it, and the head's job server then has no agent to run jobs.
    (agent_port,) = free_ports(1)
    proc = subprocess.Popen(
        [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--dashboard-agent-listen-port={agent_port}",
            *args,
        ],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready():
            assert proc.poll() is None, f"ray start exited: {Path(log.name).read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the Ray head did not come up in 90 s"
            time.sleep(1)
        yield
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
