"""`bench/proxy_fidelity.py --quick`: every training and reading of the comparison runs (3 cells, tiny
sizes, real CIFAR files, real children), its log resumes, and the summary holds every figure, so the
script cannot rot between the long runs whose figures docs/fidelity.md quotes. The figures themselves
mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "proxy_fidelity.py"
READINGS = {"acc512", "loss512", "acc4054", "loss4054", "acctest", "losstest", "sotl"}
MORE_IMAGES = READINGS - {"acc4054", "loss4054"}  # it trains on what the 4,054 read
BIGGER_SPLIT = {"acc1536", "loss1536", "acctest", "losstest", "sotl"}  # its own split, not the 512


def _run(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", *flags], capture_output=True, text=True, timeout=280
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_run_prints_every_setting_and_resumes(cifar_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "fidelity.jsonl"
    flags = (
        "--space",
        "nasnet",
        "--trainings",
        "today,today@1,all1b64,v1536b64",
        "--data-dir",
        str(cifar_dir),
    )
    done = _run(*flags, "--log", str(log), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert len(log.read_text().splitlines()) == 12  # 3 cells x 4 trainings
    settings = {(s["training"], s["reading"]): s for s in figures["settings"]}
    assert set(settings) == {(t, r) for t in ("today", "today@1") for r in READINGS} | {
        ("all1b64", r) for r in MORE_IMAGES
    } | {("v1536b64", r) for r in BIGGER_SPLIT}
    assert all(s["n"] == 3 and s["s_per_child"] > 0 for s in settings.values())
    assert settings["today", "acc512"]["seed_n"] == 3
    assert "seed_tau" in settings["today", "acc512"] and "seed_tau" not in settings["all1b64", "sotl"]
    assert figures["chance_band"] == pytest.approx(1.96 * (2 * 11 / (9 * 3 * 2)) ** 0.5)
    again = _run(*flags, "--log", str(log), "--report-only")  # nothing left to train: the log is read
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.splitlines()[-1].startswith("proxy_fidelity: nasnet n=3")
    assert len(log.read_text().splitlines()) == 12
    hybrid = _run(*flags, "--log", str(log), "--report-only", "--zero-cost", "--json")
    assert hybrid.returncode == 0, hybrid.stderr[-3000:]
    extra = {(s["training"], s["reading"]): s for s in json.loads(hybrid.stdout)["settings"]}
    assert set(extra) - set(settings) == {
        ("zero-cost", "synflow"), ("zero-cost", "naswot"), ("zero-cost", "synflow+naswot"),
        ("zero-cost", "synflow_naswot"), *((t, "loss512+zc") for t in ("today", "today@1", "all1b64")),  # v1536b64 has no 512
    }  # fmt: skip
    readings = ("synflow", "naswot", "synflow+naswot", "synflow_naswot")
    assert all(extra["zero-cost", r]["n"] == 3 for r in readings)
    assert len(log.read_text().splitlines()) == 12  # scoring trains nothing


def test_rank_sum_adds_each_columns_ranks_with_ties_shared() -> None:
    sys.path.insert(0, str(BENCH.parent))
    from proxy_fidelity import rank_sum, ranks

    assert ranks([0.3, 0.1, 0.2]) == [2.0, 0.0, 1.0]
    assert ranks([1.0, 1.0, 0.0]) == [1.5, 1.5, 0.0]
    assert rank_sum([0.3, 0.1, 0.2], [5.0, 9.0, 7.0]) == [2.0, 2.0, 2.0]
