"""`nas transfer` end to end: real Ray Train workers (gloo, CPU) on a tiny ImageFolder cut from CIFAR-10.

Each training test runs the CLI in its own process group, so that killing it (as the resume test
does on purpose) or a failure here takes its local Ray instance down with it and nothing else:
never `ray stop`, which would kill colleagues' Ray processes too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nas.api import load_checkpoint
from nas.cli.main import main
from nas.space.genotype import Genotype
from tests.cli_errors import Payload
from tests.wandb_files import read_run

CLASSES = 3
TRAIN_PER_CLASS = 32
VAL_PER_CLASS = 10
IMAGE_SIZE = 64
SMALL = ["--N", "1", "--F", "16", "--image-size", "48", "--batch-size", "4", "--workers", "2", "--lr", "0.05"]
EPOCHS = 10  # ~0.25 s each: the kill must land after the first checkpoint and before the last
TIMEOUT_S = 150


@pytest.fixture(scope="module")
def image_folder(cifar_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train/<class>/*.jpg`` and ``val/<class>/*.jpg`` from the first CIFAR batch, upsampled."""
    from torchvision.io import write_jpeg

    from nas.train.data import BATCHES_DIR, TRAIN_FILES, read_batch

    root = tmp_path_factory.mktemp("imagefolder")
    folder = cifar_dir / BATCHES_DIR if (cifar_dir / BATCHES_DIR).is_dir() else cifar_dir
    images, labels = read_batch(folder / TRAIN_FILES[0])
    for c in range(CLASSES):
        picked = torch.from_numpy(images[labels == c][: TRAIN_PER_CLASS + VAL_PER_CLASS])
        big = torch.nn.functional.interpolate(picked.float(), size=IMAGE_SIZE, mode="bilinear")
        big = big.round().clamp(0, 255).to(torch.uint8)
        for i, image in enumerate(big):
            split = "train" if i < TRAIN_PER_CLASS else "val"
            (root / split / f"class{c}").mkdir(parents=True, exist_ok=True)
            write_jpeg(image, str(root / split / f"class{c}" / f"{i}.jpg"), quality=90)
    return root


@pytest.fixture(scope="module")
def genotype_file(tiny_genotype: Genotype, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("genotype") / "best_genotype.json"
    tiny_genotype.save(path)
    return path


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas.cli.main", "transfer", *args]


def _env() -> dict[str, str]:
    # The Train controller collects reports (and registers checkpoints) every health check, 2 s by
    # default: longer than a tiny epoch, so the kill below could land after the last one.
    return os.environ | {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
        "PYTHONWARNINGS": "ignore",
    }


@pytest.fixture
def launch() -> Iterator[list[subprocess.Popen[str]]]:
    """Started CLI processes; each one's process group (its local Ray included) is killed at teardown."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _start(launch: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        _command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, so one killpg ends it and its Ray
    )
    launch.append(proc)
    return proc


def _finish(proc: subprocess.Popen[str]) -> dict[str, object]:
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, stderr[-3000:]
    result: dict[str, object] = json.loads(stdout)
    return result


@pytest.mark.slow
def test_transfer_trains_on_two_workers_and_resumes_after_a_kill(
    image_folder: Path,
    genotype_file: Path,
    tmp_path: Path,
    launch: list[subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ten short epochs on two gloo workers, the driver killed -9 after the first checkpoint, then ``--resume``.

    One test rather than two because each local Ray start costs tens of seconds on a small CPU box.
    """
    out = tmp_path / "out"
    args = ["--genotype", str(genotype_file), "--data-dir", str(image_folder), "--out", str(out), "--json"]
    args += [*SMALL, "--epochs", str(EPOCHS), "--wandb", "disabled"]
    proc = _start(launch, *args)
    run_dir = out / "ray" / "transfer"
    deadline = time.monotonic() + TIMEOUT_S
    while not _checkpoint_registered(run_dir / "checkpoint_manager_snapshot.json"):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_until_gone(proc.pid)
    assert not (out / "result.json").exists()
    assert main(["transfer", *args]) == 2  # an existing run is neither overwritten nor silently continued
    assert "pass --resume" in capsys.readouterr().err

    result = _finish(_start(launch, *args, "--resume"))
    history = result["history"]
    assert isinstance(history, dict)
    first, resumed = history["resumed_at"]
    assert first == 0 and 1 <= resumed < EPOCHS  # the second run continued after a checkpoint
    assert len(history["top1"]) == len(history["top5"]) == result["epochs"] == EPOCHS
    top1, top5 = result["top1"], result["top5"]
    assert isinstance(top1, float) and isinstance(top5, float)
    assert 0.0 <= top1 <= top5 == 1.0  # 3 classes: every label is in the top 5
    assert result["workers"] == 2 and result["F"] == 16 and result["image_size"] == 48
    assert isinstance(result["images_per_s"], float) and result["images_per_s"] > 0
    saved = json.loads((out / "result.json").read_text())
    assert saved["history"] == history and saved["config"]["network"]["num_classes"] == CLASSES

    # A checkpoint Ray Train wrote, tampered with: refused before Ray starts, in one line (issue 28)
    latest = json.loads((run_dir / "checkpoint_manager_snapshot.json").read_text())[
        "latest_checkpoint_result"
    ]
    folder = run_dir / latest["checkpoint_dir_name"]
    torch.save({"model": Payload()}, folder / "state.pt")
    assert main(["transfer", *args, "--epochs", str(EPOCHS + 1), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nas: error: {folder}: not a loadable checkpoint (Weights only load failed")
    assert len(err.strip().splitlines()) == 1 and "pwned" not in err


@pytest.mark.slow
def test_cifar_final_evaluation_uses_the_test_batch_and_logs_a_wandb_run(
    cifar_dir: Path, genotype_file: Path, tmp_path: Path, launch: list[subprocess.Popen[str]]
) -> None:
    """The papers' CIFAR-10 evaluation through the same path: every training image, the test batch scored."""
    out = tmp_path / "cifar"
    args = ["--genotype", str(genotype_file), "--dataset", "cifar10", "--data-dir", str(cifar_dir)]
    args += ["--N", "1", "--C", "4", "--epochs", "1", "--batch-size", "64", "--workers", "2", "--cutout", "0"]
    args += ["--out", str(out), "--json", "--wandb", "offline"]
    result = _finish(_start(launch, *args))
    assert result["eval_split"] == "test" and result["epochs"] == 1 and result["gpus_per_worker"] == 0
    top1, top5 = result["top1"], result["top5"]
    assert isinstance(top1, float) and isinstance(top5, float) and 0.0 <= top1 <= top5 <= 1.0
    (run,) = [read_run(p) for p in out.glob("wandb/offline-run-*/run-*.wandb")]
    assert run.job_type == "transfer"
    assert run.series("top1") == [top1] and run.series("top5") == [top5]
    assert run.config["params"] == result["params"] and run.config["dataset"] == "cifar10"
    assert run.summary["top1"] == top1

    # The export the run printed works on its real checkpoint (Ray Train's folder layout).
    assert result["export"] == f"nas export {out} --format pt2"
    assert main(["export", str(out)]) == 0
    images = torch.randn(3, 3, 32, 32)
    program = torch.export.load(out / "model.pt2").module()
    with torch.no_grad():
        expected = load_checkpoint(out)(images).logits
    torch.testing.assert_close(program(images), expected, atol=1e-5, rtol=0)


def _checkpoint_registered(snapshot: Path) -> bool:
    """Ray Train writes its snapshot in place (not atomically): it counts once it parses and names one."""
    try:
        return json.loads(snapshot.read_text())["latest_checkpoint_result"] is not None
    except (OSError, ValueError, KeyError):
        return False


def _wait_until_gone(session: int) -> None:
    """Wait for every process of ``session`` (the killed CLI's local Ray: GCS, raylet, workers) to exit."""
    deadline = time.monotonic() + 30
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if (
                int(fields[3]) == session and fields[0] != "Z"
            ):  # fields after the name: state, ppid, pgrp, sid
                alive.append(stat.parent.name)
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes of the killed run still alive: {alive}"
        time.sleep(0.2)


def test_dry_run_matches_the_paper(capsys: pytest.CaptureFixture[str]) -> None:
    """NASNet-A mobile, 4 @ 1056 at 224 px: 5.3M params and 564M mult-adds (Zoph et al. 2018, Table 2)."""
    assert (
        main(
            [
                "transfer",
                "--genotype",
                "nasnet-a",
                "--dataset",
                "imagenet",
                "--N",
                "4",
                "--F",
                "1056",
                "--dry-run",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["N"], summary["F"], summary["C"], summary["image_size"]) == (4, 1056, 44, 224)
    assert summary["params"] == pytest.approx(5.3e6, rel=0.05)
    assert summary["mult_adds"] == pytest.approx(564e6, rel=0.05)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_dir", "nowhere: data directory not found"),
        ("no_val", "no val folder inside"),
        ("bad_genotype", "bad.json"),
        ("unrealizable", "F=1000 is not realizable"),
    ],
)
def test_user_errors_are_one_line(
    case: str, expected: str, image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "only_train" / "train").mkdir(parents=True)
    (tmp_path / "bad.json").write_text("{not json")
    args = {
        "missing_dir": [
            "--genotype",
            "nasnet-a",
            "--data-dir",
            str(tmp_path / "nowhere"),
            "--N",
            "1",
            "--F",
            "24",
        ],
        "no_val": ["--genotype", "nasnet-a", "--data-dir", str(tmp_path / "only_train"), "--F", "24"],
        "bad_genotype": [
            "--genotype",
            str(tmp_path / "bad.json"),
            "--data-dir",
            str(image_folder),
            "--dry-run",
        ],
        "unrealizable": ["--genotype", "nasnet-a", "--F", "1000", "--dry-run"],
    }[case]
    assert main(["transfer", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert expected in captured.err
