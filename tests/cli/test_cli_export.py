"""`nas export` round trips: the file runs in a fresh Python that never imports `nas`, with the same logits.

The checkpoints are real ones, in the layouts `nas train` (``RUN/model.pt``) and `nas transfer`
(``RUN/ray/transfer/epoch_0001/state.pt``, optimizer state beside the model) write, of tiny networks
(N=1, C=4 for NASNet-A; N=1, C=8 for a NAS-Bench-201 cell) whose batch-norm statistics are made
non-trivial so that eval mode is what is compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas.cli.main import main
from nas.model.build import AnyNetwork, build_any_network
from nas.model.checkpoint import network_state
from nas.model.network import NetworkConfig
from nas.space.load import AnyGenotype
from nas.space.nb201 import Nb201Genotype
from nas.space.published import resolve_genotype

_LOAD_PT2 = """
import sys, torch
program = torch.export.load(sys.argv[1]).module()
images = torch.load(sys.argv[2], weights_only=True)
torch.save(program(images), sys.argv[3])
assert "nas" not in sys.modules, "the exported file needed the nas package"
"""
_LOAD_ONNX = """
import sys, numpy, onnxruntime, torch
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
images = torch.load(sys.argv[2], weights_only=True).numpy()
(logits,) = session.run(None, {"images": images})
torch.save(torch.from_numpy(logits), sys.argv[3])
assert "nas" not in sys.modules, "the exported file needed the nas package"
"""
_LOADERS = {"pt2": _LOAD_PT2, "onnx": _LOAD_ONNX}
NB201 = Nb201Genotype.from_arch(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
)
NB201_CONFIG = NetworkConfig(N=1, C=8)


def _trained(config: NetworkConfig, genotype: AnyGenotype | None = None) -> AnyNetwork:
    """A network (NASNet-A's unless ``genotype``) with batch-norm running statistics away from 0 and 1."""
    torch.manual_seed(0)
    model = build_any_network(genotype or resolve_genotype("nasnet-a"), config)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return model.eval()


def _save_run(model: AnyNetwork, run: Path, layout: str, genotype: AnyGenotype | None = None) -> None:
    """The checkpoint as `nas train` or `nas transfer` leaves it in its output folder."""
    state = network_state(model, genotype or resolve_genotype("nasnet-a"))
    if layout == "train":
        file = run / "model.pt"
    else:
        file = run / "ray" / "transfer" / "epoch_0001" / "state.pt"
        state |= {"optimizer": {"state": {}, "param_groups": []}, "scheduler": {}, "epoch": 1}
    file.parent.mkdir(parents=True)
    torch.save(state, file)


def _run_fresh(format: str, exported: Path, images: torch.Tensor, tmp_path: Path) -> torch.Tensor:
    """The logits of ``exported`` on ``images``, computed by a Python process without `nas`."""
    torch.save(images, tmp_path / "images.pt")
    proc = subprocess.run(
        [sys.executable, "-c", _LOADERS[format], exported, tmp_path / "images.pt", tmp_path / "logits.pt"],
        cwd=tmp_path,  # not the repository: `nas` is not importable from the working folder
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return torch.load(tmp_path / "logits.pt", weights_only=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("dataset", "layout"),
    [("cifar10", "train"), pytest.param("imagenet", "transfer", marks=pytest.mark.slow)],
    ids=["cifar-train-run", "imagenet-transfer-run"],
)
def test_pt2_round_trip_in_a_process_without_nas(
    dataset: str, layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = NetworkConfig(dataset=dataset, N=1, C=4, auxiliary=True, num_classes=10, image_size=32)
    model = _trained(config)
    run = tmp_path / "run"
    _save_run(model, run, layout)
    assert main(["export", str(run), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(run / "model.pt2") and summary["input_shape"] == ["batch", 3, 32, 32]
    images = torch.randn(5, 3, 32, 32)  # not the export's example batch of 2: the batch is dynamic
    logits = _run_fresh("pt2", run / "model.pt2", images, tmp_path)
    with torch.no_grad():
        expected = model(images).logits
    assert logits.shape == (5, 10)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


@pytest.mark.slow  # the ONNX exporter takes about a minute on a loaded 2-core machine
def test_onnx_round_trip_in_a_process_without_nas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    model = _trained(NetworkConfig(N=1, C=4))
    run = tmp_path / "run"
    _save_run(model, run, "train")
    out = tmp_path / "exported" / "cell.onnx"
    assert main(["export", str(run / "model.pt"), "--format", "onnx", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(
        out
    )  # the exporter's own progress kept off stdout
    images = torch.randn(16, 3, 32, 32)
    logits = _run_fresh("onnx", out, images, tmp_path)
    with torch.no_grad():
        expected = model(images).logits
    assert torch.equal(logits.argmax(1), expected.argmax(1))
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("format", ["pt2", "onnx"])
def test_nas_bench_201_round_trip_in_a_process_without_nas(
    format: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trained NAS-Bench-201 network (issue 27: "NASNet or NAS-Bench-201 cells") exported from its
    `nas train` folder: pt2 logits within 1e-5, onnx top-1 identical. Each takes 7-10 s on this 2-core
    machine (load 2-5), run alone or after the NASNet tests."""
    if format == "onnx":
        for module in ("onnxscript", "onnxruntime"):
            pytest.importorskip(module, reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    model = _trained(NB201_CONFIG, NB201)
    run = tmp_path / "run"
    _save_run(model, run, "train", NB201)
    assert main(["export", str(run), "--format", format, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["N"], summary["C"], summary["out"]) == (1, 8, str(run / f"model.{format}"))
    images = torch.randn(16, 3, 32, 32)
    logits = _run_fresh(format, run / f"model.{format}", images, tmp_path)
    with torch.no_grad():
        expected = model(images).logits
    assert logits.shape == (16, 10)
    if format == "pt2":
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    else:
        assert torch.equal(logits.argmax(1), expected.argmax(1))
