"""A trained network as a file that runs without this package: a ``.pt2`` program or an ONNX model.

``pt2`` is `torch.export`'s ahead-of-time graph (weights included), loaded back with
``torch.export.load(path).module()`` by any process with torch, never importing `nas`. ``onnx`` is the
same graph translated by ``torch.onnx.export(dynamo=True)`` (the TorchScript exporter is deprecated),
run by onnxruntime or any ONNX runtime; it needs the optional ``onnx`` extra
(``pip install -e '.[onnx]'``: onnx, onnxscript, onnxruntime).

Both take one float32 NCHW batch of normalized images (the training data's mean and std) and return
the logits alone: the network is exported in eval mode, so the auxiliary head and drop path are off.
The batch dimension is dynamic; height and width are fixed at the training size.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from nas.errors import ConfigError

FORMATS = ("pt2", "onnx")
INPUT_NAME, OUTPUT_NAME = "images", "logits"  # the ONNX graph's names (pt2 takes one positional input)
MAX_BATCH = 1 << 16
_EXAMPLE_BATCH = 2  # a size of 1 would be specialized (torch.export treats 0 and 1 as constants)
ONNX_MODULES = ("onnx", "onnxscript")
ONNX_INSTALL = "pip install -e '.[onnx]'"


class LogitsOnly(nn.Module):
    """A network whose ``forward`` returns `NetworkOutput`, reduced to the logits tensor."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).logits  # type: ignore[no-any-return]


def check_format(format: str) -> None:
    """Refuse an unknown format, and ``onnx`` when its extra is not installed, before any work."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    if format == "onnx":
        missing = [m for m in ONNX_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"--format onnx needs {' and '.join(missing)}, not installed: {ONNX_INSTALL}")


def export_network(network: nn.Module, path: Path, *, format: str, image_size: int) -> Path:
    """Write ``network``'s eval-mode logits as a ``format`` file at ``path``; return ``path``."""
    check_format(format)
    model = LogitsOnly(network).eval()
    example = torch.randn(_EXAMPLE_BATCH, 3, image_size, image_size)
    dynamic = {"x": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if format == "pt2":
            program = torch.export.export(model, (example,), dynamic_shapes=dynamic)
            torch.export.save(program, path)
        else:
            torch.onnx.export(
                model,
                (example,),
                path,
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=dynamic,
                external_data=False,  # one self-contained file, weights inside
                verbose=False,
            )
    return path
