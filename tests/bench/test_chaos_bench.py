"""`bench/chaos.py`, short: one searcher's tabular search through real local Ray, its driver killed -9
once (and resumed by the README's command) and a Ray worker killed -9 once mid-child, ends with every
child exactly once -- the run folder audited, not just the bench's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import audit

REPO_ROOT = Path(__file__).resolve().parents[2]
TRIALS = 60  # each kill costs a Ray start (~15 s); the full size is docs/clusters.md's run


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_driver_and_worker_kills_leave_every_child_exactly_once(
    tmp_path: Path, nb201_table_path: Path
) -> None:
    flags = ["--searchers", "random", "--trials", str(TRIALS), "--driver-kills", "1", "--worker-kills", "1"]
    flags += ["--seed", "1", "--benchmark", str(nb201_table_path), "--results-dir", str(tmp_path), "--json"]
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "chaos.py"), *flags],
        capture_output=True,
        text=True,
        timeout=380,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    run = json.loads(done.stdout)["random"]
    assert run["driver_kills"] == run["resumes"] == 1 and run["worker_kills"] == 1
    assert run["report_builds"] and (tmp_path / "random-report" / "report.md").is_file()
    found = audit(tmp_path / "random", TRIALS, nb201_table_path)  # the folder itself, not the bench's word
    assert found.problems == []
    assert found.children == found.distinct == TRIALS and found.rows >= TRIALS
    assert found.failed <= 1  # only a child whose worker was killed under it may fail, and says why
