"""`bench/zero_cost.py --quick`: both sides run end to end (real proxies, real table, real committed
runs) and the JSON holds every figure, so the script cannot rot between the long runs whose figures
docs/zero_cost.md quotes. The figures mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "zero_cost.py"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_run_reports_every_proxy_on_both_spaces(cifar_dir: Path, nb201_table_path: Path) -> None:
    table = nb201_table_path
    flags = ["--quick", "--cells", "6", "--data-dir", str(cifar_dir), "--table", str(table)]
    done = subprocess.run(
        [sys.executable, str(BENCH), *flags, "--json"], capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for space in ("nas-bench-201", "nasnet"):
        assert out[space]["n"] == 6
        assert {"synflow", "naswot", "params", "synflow+naswot"} <= set(out[space]["results"])
        for figures in out[space]["results"].values():
            assert -1 <= figures["rho"] <= 1 and -1 <= figures["tau"] <= 1


def test_rank_statistics_match_hand_computed_values() -> None:
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import zero_cost

    assert zero_cost.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert zero_cost.kendall([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert zero_cost.kendall([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert list(zero_cost.ranks([5.0, 1.0, 5.0])) == [1.5, 0.0, 1.5]
    assert zero_cost.tau_band(1000) == pytest.approx(0.0414, abs=1e-3)


def test_a_missing_data_folder_is_one_line_and_exit_2(tmp_path: Path, nb201_table_path: Path) -> None:
    flags = [
        "--quick",
        "--space",
        "nas-bench-201",
        "--data-dir",
        str(tmp_path),
        "--table",
        str(nb201_table_path),
    ]
    done = subprocess.run([sys.executable, str(BENCH), *flags], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no CIFAR-10 batch files" in done.stderr
