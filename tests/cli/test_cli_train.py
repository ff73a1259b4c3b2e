"""`nas train` end to end in a subprocess: JSON output, result files, the checkpoint, user errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from nas.cli.main import build_parser
from nas.cli.train import JSON_KEYS, _train_config
from nas.model.network import NetworkConfig, build_network
from nas.space.published import resolve_genotype
from nas.train.recipes import PAPER_SCHEDULE
from tests.nas_cli import nas

REPO_ROOT = Path(__file__).resolve().parents[2]


def _nas(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return nas(*args, cwd=REPO_ROOT)


@pytest.mark.slow  # trains a network in a subprocess
def test_train_json_result_and_checkpoint(cifar_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _nas(
        "train", "nasnet-a", "--N", "1", "--C", "8", "--epochs", "1", "--batch-size", "64",
        "--train-size", "256", "--val-size", "128", "--device", "cpu",
        "--data-dir", cifar_dir, "--out", out, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert set(JSON_KEYS) <= set(summary) and summary["status"] == "completed"
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["params"] > 0 and summary["mult_adds"] > 0
    record = json.loads((out / "result.json").read_text())
    assert record["genotype"]["name"] == "nasnet-a" and record["split"]["test_size"] == 1017
    state = torch.load(out / "model.pt", weights_only=True)["model"]
    assert summary["export"] == f"nas export {out} --format pt2"
    fresh = build_network(resolve_genotype("nasnet-a"), NetworkConfig(N=1, C=8)).state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in fresh.items()}


def test_missing_data_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-cifar-here"
    proc = _nas("train", "nasnet-a", "--epochs", "1", "--data-dir", missing, "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no-cifar-here" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "run").exists()


def test_paper_schedule_and_explicit_flags() -> None:
    args = build_parser().parse_args(["train", "nasnet-a", "--paper-schedule", "--epochs", "3"])
    config = _train_config(args)
    assert config.epochs == 3  # an explicit flag wins
    assert (config.batch_size, config.lr, config.aux_weight) == (32, 0.025, 0.4)
    assert config.drop_path_prob == PAPER_SCHEDULE["drop_path_prob"] == pytest.approx(1 - 0.6)
    plain = _train_config(build_parser().parse_args(["train", "nasnet-a"]))
    assert plain.aux_weight == 0.0 and plain.epochs != 600
