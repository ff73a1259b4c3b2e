"""`bench/searchers.py --objective nats-bench` at tiny settings: every searcher runs against the real
NAS-Bench-201 table and the output ends with the summary line, so the script cannot rot between the
long runs whose figures docs/benchmarks.md quotes. The figures mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas.search.searcher import searcher_names

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "searchers.py"


def run_bench(table: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(BENCH), "--objective", "nats-bench", "--table", str(table), *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_tiny_run_reports_every_searcher_and_the_summary(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--seeds", "2", "--children", "30", "--noise", "1.0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("children"))
    assert set(header.split()[1:]) == set(searcher_names())
    assert lines[-1].startswith("nats_goals_met: ")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_json_counts_evaluated_children(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--seeds", "2", "--children", "30", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for name in searcher_names():
        row = out["summary"][name]["30"]
        assert row["distinct"] == 30  # the budget counts distinct, evaluated cells
        assert 0 <= row["hits"] <= 2 and row["mean"] <= out["optimum"]


def test_negative_noise_is_a_usage_error(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--noise", "-1")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith("--noise must be >= 0")
