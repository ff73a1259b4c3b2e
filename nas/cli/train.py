"""`nas train`: train one network on CIFAR-10 and evaluate it on the test batch.

Used for a quick look at a genotype and for the final evaluation of a found cell. The genotype is a
NASNet-space cell or a NAS-Bench-201 one (an arch string, its JSON, or the run folder of either
space's search). ``--paper-schedule`` selects the cell's own paper's CIFAR-10 recipe: NASNet's
(`nas.train.recipes.PAPER_SCHEDULE`; NASNet-A's CIFAR model is ``--N 6 --F 768``, 18 normal cells) or
NAS-Bench-201's (`nas.train.recipes.NB201_SCHEDULE`, on its N=5, C=16 network), the recipe behind
every accuracy of the benchmark's table. Flags given explicitly override the schedule's values.

Without either, the defaults are `nas.train.trainer.TrainConfig`'s short proxy: 10 epochs, batch 128,
lr 0.05 (cosine), SGD with Nesterov momentum 0.9, weight decay 3e-4, gradient clip 5, at N=2, C=16 and
NASNet's 5,000 held-out validation images. A search's children train otherwise (one epoch, batch
32, lr 0.1, N=1, C=8, 2,048 images, 512 held out), so re-training a found cell with the defaults
does not reproduce its search accuracy. ``--like results/<run>`` takes that run's proxy instead: its
N, C, epochs, batch size, lr, image counts, seed and the same train/validation split; the genotype
defaults to the run's ``best_genotype.json``. Flags given explicitly still override.

The output folder holds ``result.json`` and ``model.pt``: the weights with the genotype and network
config that rebuild them (`nas.api.load_checkpoint`); ``nas export OUT`` makes it a file that runs
without this package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.cli import common
from nas.train.recipes import NB201_SCHEDULE, PAPER_SCHEDULE

if TYPE_CHECKING:
    from nas.model.network import NetworkConfig
    from nas.space.load import AnyGenotype
    from nas.train.trainer import ChildResult, TrainConfig

JSON_KEYS = ("status", "val_accuracy", "test_accuracy", "params", "mult_adds", "images_per_s", "wall_s")


HELP = "train one network on CIFAR-10 and evaluate it on the test batch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "genotype",
        nargs="?",
        help="a genotype JSON file, a search's run folder (its best genotype), a published cell's "
        "name (e.g. nasnet-a) or a NAS-Bench-201 arch string ('|nor_conv_3x3~0|+|...|'); default with "
        "--like: that run's best genotype",
    )
    parser.add_argument("--dataset", choices=("cifar10",), default="cifar10")
    common.add_size_arguments(parser, default_N=None, default_F=None)  # default 2 @ C=16, or --like's
    train = parser.add_argument_group(
        "training (defaults: a short proxy of 10 epochs, batch 128, lr 0.05; or --like, or --paper-schedule)"
    )
    train.add_argument(
        "--like",
        type=Path,
        metavar="RUN_DIR",
        help="train as that search trained its children: its N, C, epochs, batch size, lr, image "
        "counts, seed and train/validation split",
    )
    train.add_argument(
        "--paper-schedule",
        action="store_true",
        help="the cell's paper's CIFAR-10 recipe: NASNet's final one (600 epochs), or NAS-Bench-201's "
        "(200 epochs, batch 256, lr 0.1, N=5, C=16) for an NB201 cell",
    )
    train.add_argument("--epochs", type=common.integer(1, 100_000))
    train.add_argument(
        "--max-steps", type=common.integer(1, None), help="stop after this many optimizer steps"
    )
    train.add_argument("--batch-size", type=common.integer(1, 1 << 20))
    train.add_argument(
        "--lr", type=common.real(0, None, low_open=True), help="initial learning rate (cosine decay per step)"
    )
    train.add_argument("--weight-decay", type=common.real(0, 1))
    train.add_argument("--grad-clip", type=common.real(0, 1e6, low_open=True), help="gradient-norm clip")
    train.add_argument("--cutout", type=common.integer(0, 32), help="cutout square side in pixels (0: off)")
    train.add_argument(
        "--aux-weight", type=common.real(0, 100), help="auxiliary head loss weight (0: no aux head)"
    )
    train.add_argument(
        "--drop-path", dest="drop_path_prob", type=common.real(0, 0.99), help="final drop path probability"
    )
    train.add_argument("--label-smoothing", type=common.real(0, 1))
    train.add_argument(
        "--train-size",
        type=common.integer(1, 10_000_000),
        help="train on this many images of the train split",
    )
    train.add_argument(
        "--val-size", type=common.integer(1, 10_000_000), help="images held out of the training batches"
    )
    train.add_argument("--seed", type=common.integer(0, 2**32 - 1))
    train.add_argument("--device", choices=("auto", "cpu", "cuda"))
    train.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="bf16 autocast on CUDA (default off: slower for NASNet cells at these widths)",
    )
    train.add_argument("--channels-last", action=argparse.BooleanOptionalAction, help="default: on for CUDA")
    train.add_argument("--compile", action="store_true", default=None, help="torch.compile the network")
    io = parser.add_argument_group("data and output")
    io.add_argument("--data-dir", help="CIFAR-10 folder (default: $NAS_DATA_DIR)")
    io.add_argument("--download", action="store_true", help="download CIFAR-10 into --data-dir first")
    io.add_argument("--out", type=Path, help="output folder (default: results/train/<genotype>-<time>)")
    common.add_json_argument(io)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.api import TRAIN_CHECKPOINT
    from nas.space.nb201 import Nb201Genotype
    from nas.space.published import resolve_any_genotype
    from nas.train.data import load_cifar10
    from nas.train.trainer import train_child

    like = _like(args)
    if "threads" in like:
        import torch

        torch.set_num_threads(like["threads"])
    genotype = resolve_any_genotype(args.genotype)
    train_config = _train_config(args, like, nb201=isinstance(genotype, Nb201Genotype))
    network_config = _network_config(args, genotype, train_config, like)
    common.check_network_size(genotype, network_config)
    out = common.check_output_dir(
        args.out
        or Path("results", "train", f"{_name(args.genotype, genotype)}-{datetime.now():%Y%m%d-%H%M%S}"),
        "--out",
    )
    data = load_cifar10(
        args.data_dir if args.data_dir is not None else like.get("data_dir"),
        val_size=train_config.val_size,
        split_seed=like.get("split_seed", 0),
        with_test=True,
        download=args.download,
    )
    _check_sizes(train_config, len(data.train))
    out.mkdir(parents=True, exist_ok=True)
    result = train_child(
        genotype,
        network_config,
        train_config,
        data,
        report=_EpochPrinter(train_config.epochs),
        checkpoint=out / TRAIN_CHECKPOINT,
    )
    record = {
        **result.to_dict(),
        "genotype": genotype.to_dict(),
        "network": network_config.to_dict(),
        "train": asdict(train_config),
    }
    (out / "result.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    export = common.export_command(out) if result.status == "completed" else None
    if args.json:
        summary = {k: record[k] for k in JSON_KEYS}
        common.print_json({**summary, "error": result.error, "out": str(out), "export": export})
    else:
        _print_summary(result, out, export)
    return 0 if result.status == "completed" else 1


def _like(args: argparse.Namespace) -> dict[str, Any]:
    """``--like RUN_DIR``: that search's child settings as `TrainConfig`/network/data values; fills in
    ``args.genotype`` with the run's best genotype when none was given."""
    from nas.errors import ConfigError
    from nas.search.runner import load_run_settings

    if args.like is None:
        if args.genotype is None:
            raise ConfigError(
                "a genotype is required (a JSON file, a run folder or a published name), or --like"
            )
        return {}
    if args.paper_schedule:
        raise ConfigError("--like and --paper-schedule are two different recipes: pick one")
    search = load_run_settings(args.like, flag="--like")
    if args.genotype is None:
        args.genotype = str(args.like)
    return {
        "epochs": search.epochs,
        "batch_size": search.batch_size,
        "lr": search.lr,
        "seed": search.seed,
        "train_size": search.train_size,
        "val_size": search.val_size,
        "split_seed": search.seed,  # the children's data split (`nas.search.settings.ChildSettings.of`)
        "N": search.N,
        "C": search.C,
        "data_dir": search.data_dir,
        # Ray runs each child with as many threads as CPUs it was given (OMP_NUM_THREADS): the same
        # count gives the same float reductions, so the same accuracy on a CPU.
        "threads": max(1, int(search.cpus_per_trial)),
    }


def _train_config(
    args: argparse.Namespace, like: Mapping[str, Any] | None = None, *, nb201: bool = False
) -> TrainConfig:
    """Explicit flags, else ``--like``'s or the paper schedule's value (NAS-Bench-201's for an ``nb201``
    cell, else NASNet's), else `TrainConfig`'s default."""
    from nas.train.trainer import TrainConfig

    values = dict(NB201_SCHEDULE if nb201 else PAPER_SCHEDULE) if args.paper_schedule else {}
    values |= {k: v for k, v in (like or {}).items() if k in {f.name for f in fields(TrainConfig)}}
    for f in fields(TrainConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    return TrainConfig(**values)


def _network_config(
    args: argparse.Namespace, genotype: AnyGenotype, train: TrainConfig, like: dict[str, Any]
) -> NetworkConfig:
    from nas.errors import ConfigError
    from nas.model.nb201 import PAPER_SIZE
    from nas.model.network import NetworkConfig
    from nas.space.genotype import Genotype

    sizes: dict[str, Any] = {"dataset": args.dataset, "auxiliary": train.aux_weight > 0}
    if not isinstance(genotype, Genotype):  # a NAS-Bench-201 cell: N and C only, no auxiliary head
        if args.F is not None:
            raise ConfigError("--F: a NAS-Bench-201 network is sized by --N and --C")
        if train.aux_weight > 0 or train.drop_path_prob > 0:
            raise ConfigError(
                "--aux-weight, --drop-path: a NAS-Bench-201 network has no auxiliary head or drop path"
            )
        sizes["auxiliary"] = False
        if args.paper_schedule:
            like = {**PAPER_SIZE, **like}
    N = args.N if args.N is not None else like.get("N")
    if N is not None:
        sizes["N"] = N
    if args.F is not None and isinstance(genotype, Genotype):
        return NetworkConfig.from_filters(genotype, args.F, **sizes)
    C = args.C if args.C is not None else like.get("C")
    if C is not None:
        sizes["C"] = C
    return NetworkConfig(**sizes)


def _name(arg: str, genotype: AnyGenotype) -> str:
    from nas.space.genotype import file_stem

    return file_stem(genotype.name or Path(arg).stem)


def _check_sizes(train: TrainConfig, images: int) -> None:
    """Refuse a training split or batch the data cannot give, instead of a failed child (exit 1)."""
    from nas.errors import ConfigError

    if train.train_size is not None and train.train_size > images:
        raise ConfigError(f"--train-size {train.train_size}: the training split has only {images} images")
    if train.batch_size > min(images, train.train_size or images):
        raise ConfigError(
            f"--batch-size {train.batch_size} is larger than the training split ({min(images, train.train_size or images)} images)"
        )


class _EpochPrinter:
    """Progress on stderr, so that stdout carries only the summary (or the one JSON object)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> None:
        val, loss, speed = metrics["val_accuracy"], metrics["train_loss"], metrics["images_per_s"]
        line = f"epoch {epoch}/{self.epochs}: val {val:.4f}  loss {loss:.3f}  {speed:.0f} img/s"
        print(line, file=sys.stderr)


def _print_summary(result: ChildResult, out: Path, export: str | None) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    rows = {
        "status": result.status + (f" ({result.error})" if result.error else ""),
        "val accuracy": f"{fmt(result.final_val_accuracy, '.4f')} (best {fmt(result.val_accuracy, '.4f')})",
        "test accuracy": fmt(result.test_accuracy, ".4f"),
        "params": fmt(result.params, ","),
        "mult-adds": fmt(result.mult_adds, ","),
        "images/s": fmt(result.images_per_s, ".0f"),
        "wall time": f"{result.wall_s:.1f} s",
        "saved to": str(out),
    }
    if export is not None:
        rows["export"] = export
    for label, value in rows.items():
        print(f"{label:<14} {value}")
