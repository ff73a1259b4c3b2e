"""Processes in end-to-end tests: wait for a search's progress, kill -9 it with everything Ray started.

The kill itself (by pid, Ray's processes included) is ``bench/processes.py``'s, shared with the chaos
bench; this module adds the waiting a test does around it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench.processes import kill_9
from nas.results.run_folder import read_jsonl


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen[str], timeout: float) -> None:
    """Until the JSONL file ``path`` has ``n`` rows; fails if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(read_jsonl(path)) >= n:
            return
        assert proc.poll() is None, f"search exited early: {proc.communicate()[1][-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"{path} did not reach {n} lines in {timeout} s")


def kill_9_after_lines(argv: list[str], path: Path, n: int, *, cwd: Path, env: dict[str, str]) -> None:
    """Start ``argv`` (a search) in its own session, and kill -9 it with everything it started once
    the JSONL file ``path`` has ``n`` rows."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for_lines(path, n, proc, timeout=180)
        kill_9(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
