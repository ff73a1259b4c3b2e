"""A disk that fills mid-search (issue 28): one line that says so, the run folder whole, ``--resume`` finishes.

The results folder is a small tmpfs mounted for the test (root only: skipped elsewhere); once the
first child is in the leaderboard, a filler file takes every byte left, as another job on the
machine would. After the filler is deleted, ``--resume`` must end with every child exactly once.
Eight children, two at a time: tmpfs gives a file whole pages, so the first few rows still fit in the
leaderboard's last page, and a later write is the one that finds no room; the child then running is
stopped and reruns.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.results.run_folder import read_jsonl
from tests.nas_cli import NAS, TINY_SEARCH, check_leaderboard, nas, search_env

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    block = b"\0" * (1 << 16)
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(block)
            f.flush()
    return filler


def test_a_full_disk_stops_the_search_in_one_line_and_resume_finishes(
    small_disk: Path, cifar_dir: Path
) -> None:
    run_dir = small_disk / "res" / "d"
    args = [*TINY_SEARCH, "--searcher", "random", "--trials", "8", "--max-concurrent", "2"]
    args += ["--data-dir", str(cifar_dir), "--results-dir", str(small_disk / "res"), "--name", "d"]
    proc = subprocess.Popen(
        [NAS, "search", *args], env=search_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while not read_jsonl(run_dir / "trials.jsonl") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    filler = _fill(small_disk)
    _, err = proc.communicate(timeout=300)

    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"nas: error: {run_dir}/") and "No space left on device" in last, err[-3000:]
    assert "--resume" in last
    rows = read_jsonl(run_dir / "trials.jsonl")  # whole: a torn last line at most, skipped
    assert 1 <= len(rows) < 8 and len({r["trial_id"] for r in rows}) == len(rows)

    filler.unlink()
    resumed = nas("search", "--resume", str(run_dir), "--data-dir", str(cifar_dir), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_leaderboard(run_dir, trials=8, searcher="random")  # every child once, indices 0..7
    journal = read_jsonl(run_dir / "searcher_stats.jsonl")
    assert [r["step"] for r in journal] == list(range(1, 9))
