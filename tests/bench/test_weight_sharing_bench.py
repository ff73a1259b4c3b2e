"""`bench/weight_sharing.py --quick` in each of its modes: every step of the comparison runs (tiny
sizes, real CIFAR files, real supernet stages and children), so the script cannot rot between the
hour-long runs whose figures docs/weight_sharing.md quotes. The figures themselves mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COST = {"score_s", "score_side_by_side_s", "score_threads", "child_s", "speedup"}
RANKING = {"kendall_tau", "kendall_tau_by_epochs", "standalone_seed_tau", "random_cells_mean"}
SEARCH = {"rl_top_mean", "random_top_mean", "searches"}
MODES = {
    "full": ([], COST | RANKING | SEARCH),
    "cost-only": (["--cost-only"], COST),
}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", list(MODES))
def test_quick_run_prints_its_figures(mode: str, cifar_dir: Path) -> None:
    flags, expected = MODES[mode]
    command = [sys.executable, str(REPO_ROOT / "bench" / "weight_sharing.py"), "--quick", "--json"]
    done = subprocess.run(
        [*command, *flags, "--data-dir", str(cifar_dir)], capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    absent = (COST | RANKING | SEARCH) - expected
    assert expected <= figures.keys() and not absent & figures.keys()
    assert figures["score_s"] > 0 and figures["score_side_by_side_s"] > 0 and figures["child_s"] > 0
    if "kendall_tau_by_epochs" in expected:
        assert set(figures["kendall_tau_by_epochs"]) == {"1"}
    if "searches" in expected:
        assert [len(s["verified"]) for s in figures["searches"]["rl"]] == [2]  # --quick: top 2, 1 seed
