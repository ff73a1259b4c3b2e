"""`nas export`: a trained network as one file that runs without this package.

``--format pt2`` writes `torch.export`'s program, loaded anywhere torch is with
``torch.export.load(FILE).module()``; ``--format onnx`` an ONNX model for onnxruntime and other
runtimes (needs the extra: ``pip install -e '.[onnx]'``). Either takes a float32 batch of normalized
images (any batch size, the training image size) and returns the logits: eval mode, no auxiliary head.
The source is the folder of ``nas train --out`` or ``nas transfer --out`` (its latest epoch), or a
checkpoint file in one (``model.pt``, ``state.pt``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nas.cli import common

HELP = "export a trained network as a .pt2 (torch.export) or ONNX file"
_LOADERS = {
    "pt2": "torch.export.load({file!r}).module()(images)",
    "onnx": "onnxruntime.InferenceSession({file!r}).run(None, {{'images': images}})[0]",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", type=Path, help="a `nas train`/`nas transfer` output folder, or a checkpoint file in one"
    )
    parser.add_argument(
        "--format", default="pt2", metavar="pt2|onnx", help="pt2: torch.export (default); onnx: ONNX"
    )
    parser.add_argument("--out", type=Path, help="the file to write (default: SOURCE/model.<format>)")
    common.add_json_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.api import NORMALIZATION, export_path, export_saved
    from nas.model.export import check_format

    check_format(args.format)
    out = common.check_output_file(args.out or export_path(args.source, args.format), "--out")
    written, saved = export_saved(args.source, format=args.format, out=out)
    assert saved.genotype is not None and saved.config is not None  # export_saved built the network
    config = saved.config
    mean, std = NORMALIZATION[config.dataset]
    summary = {
        "out": str(written),
        "format": args.format,
        "bytes": written.stat().st_size,
        "genotype": saved.genotype.name,
        "dataset": config.dataset,
        "N": config.N,
        "C": config.C,
        "input_shape": ["batch", 3, config.image_size, config.image_size],
        "mean": mean,
        "std": std,
        "num_classes": config.num_classes,
    }
    if args.json:
        common.print_json(summary)
        return 0
    size = config.image_size
    print(f"wrote {written} ({args.format}, {summary['bytes'] / 1e6:.1f} MB)")
    print(
        f"input: float32 [batch, 3, {size}, {size}], (x/255 - mean)/std with mean {mean}, std {std}; "
        f"output: [batch, {config.num_classes}] logits"
    )
    print(f"load:  {_LOADERS[args.format].format(file=str(written))}")
    return 0
