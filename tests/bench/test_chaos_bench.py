"""`bench/chaos.py`, short: one searcher's tabular search through real local Ray, its driver killed -9
twice (and resumed by the README's command) and a Ray worker killed -9 twice mid-child, ends with every
child exactly once -- the run folder audited, not just the bench's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import audit

REPO_ROOT = Path(__file__).resolve().parents[2]
TRIALS = 100


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_driver_and_worker_kills_leave_every_child_exactly_once(
    tmp_path: Path, nb201_table_path: Path
) -> None:
    flags = ["--searchers", "random", "--trials", str(TRIALS), "--driver-kills", "2", "--worker-kills", "2"]
    flags += ["--seed", "1", "--benchmark", str(nb201_table_path), "--results-dir", str(tmp_path), "--json"]
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "chaos.py"), *flags],
        capture_output=True,
        text=True,
        timeout=380,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    run = json.loads(done.stdout)["random"]
    assert run["driver_kills"] == run["resumes"] == 2 and run["worker_kills"] == 2
    assert run["report_builds"] and (tmp_path / "random-report" / "report.md").is_file()
    found = audit(tmp_path / "random", TRIALS, nb201_table_path)  # the folder itself, not the bench's word
    assert found.problems == []
    assert found.children == found.distinct == TRIALS and found.rows >= TRIALS
    assert found.failed <= 2  # only a child whose worker was killed under it may fail, and says why
