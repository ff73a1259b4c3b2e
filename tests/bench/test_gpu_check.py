"""`bench/gpu_check.sh --dry-run`: the GPU check's steps at tiny sizes on the CPU, so the script cannot
rot between the rare sessions that have a GPU. It starts real local Ray twice (search and transfer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "gpu_check.sh"
CPU_STEPS = ("0_env", "1_pytest_gpu", "2a_child_training", "3a_proxy_default", "3b_proxy_N2",
             "4_search_gpus_0", "5_transfer")  # fmt: skip
CUDA_STEPS = ("2b_child_compile", "4_search_gpus_1", "4_search_gpus_0.5", "4_search_gpus_0.25")


def _env(cifar_dir: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # the `nas` environment's python for every step
    return os.environ | {
        "NAS_PYTHON": sys.executable,
        "NAS_DATA_DIR": str(cifar_dir),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO_ROOT),
    }


def test_usage_error_is_one_line_and_exit_2() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "error" in done.stderr


@pytest.mark.slow
def test_dry_run_runs_every_step_on_the_cpu(cifar_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out), "--dry-run"],
        env=_env(cifar_dir) | {"GPU_CHECK_WORK": str(tmp_path / "work")},
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((out / "gpu_check.json").read_text())
    steps = record["steps"]
    assert record["dry_run"] is True
    for name in CPU_STEPS:
        assert steps[name]["status"] == "ok", (name, steps[name], done.stdout[-3000:])
    for name in CUDA_STEPS:
        assert steps[name] == steps[name] | {"status": "skipped", "reason": "dry run: needs CUDA"}
    assert steps["0_install"]["status"] == "skipped"
    assert steps["6_weight_sharing"]["status"] == "skipped"
    assert steps["1_pytest_gpu"]["result"]["skipped"] == steps["1_pytest_gpu"]["result"]["tests"] >= 3
    assert steps["2a_child_training"]["result"]["images_per_s"]["cpu ours NCHW"] > 0
    assert steps["3a_proxy_default"]["result"]["epochs_done"] == 2
    assert steps["4_search_gpus_0"]["result"]["trials_done"] == 2
    assert steps["5_transfer"]["result"]["image_size"] == 32
    assert "speedup_vs_dataloader_cpu" in record["figures"]
    log = (out / "gpu_check.log").read_text().strip().splitlines()
    assert log[-1].startswith("gpu_check: 7 ok, 0 failed, 0 timed out, 6 skipped")
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.log"]
