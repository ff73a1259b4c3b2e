"""Processes of a search, by pid: what runs below it, and kill -9 of it with everything Ray started.

A killed driver leaves Ray's processes (gcs_server, raylet, workers) behind; they are found by pid
under the killed process, from /proc, so a kill never touches another search's or the user's Ray.
Shared by the end-to-end tests (``tests/processes.py``) and the chaos bench (``bench/chaos.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc (Ray's gcs_server, raylet, workers, ...)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> str:
    """``pid``'s command line, space-joined ('' once it has gone). Ray names a worker's process after
    the task it runs (``ray::ImplicitFunc.train``), so this tells a busy worker from an idle one."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


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
