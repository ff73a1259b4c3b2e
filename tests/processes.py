"""Processes in end-to-end tests: wait for a search's progress, kill -9 it with everything Ray started.

A killed driver leaves Ray's processes (gcs_server, raylet, workers) behind; they are found by pid
under the killed process, from /proc, so a test never touches another test's or the user's Ray.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from nas.results.run_folder import read_jsonl


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc (Ray's gcs_server, raylet, workers, ...)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False


def kill_family(family: set[int]) -> None:
    """SIGKILL whatever of ``family`` still runs: ours, by pid."""
    for pid in filter(alive, family):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_9(proc: subprocess.Popen[str]) -> None:
    """kill -9 the search's process group, then whatever Ray processes of it outlive that (by pid)."""
    family = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.5)
    kill_family(family)


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
