"""`nas transfer`: stack a found cell into an ImageNet (or full-size CIFAR-10) network and train it.

The network is the paper's N @ F (Zoph et al. 2018, Sec. 4.2): NASNet-A mobile is ``--N 4 --F 1056``
on ImageNet (5.3M params, 564M mult-adds) and ``--N 6 --F 768`` on CIFAR-10. Training runs on
``--workers`` Ray Train workers (`nas.transfer.ray_train`), checkpoints every epoch and continues after the
latest checkpoint with ``--resume``. ImageNet defaults follow DARTS's mobile recipe (SGD 0.1 with
cosine decay, weight decay 3e-5, 250 epochs, batch 128, label smoothing 0.1, auxiliary weight 0.4);
``--optimizer rmsprop`` switches to NASNet's RMSProp with 0.97 decay every 2.4 epochs. CIFAR-10
defaults are `nas.train.recipes.PAPER_SCHEDULE`, NASNet's final evaluation recipe.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.cli import common
from nas.tracking.base import MODES
from nas.train.recipes import IMAGENET_RECIPE, PAPER_SCHEDULE

if TYPE_CHECKING:
    from nas.space.genotype import Genotype

_SHARED_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "drop_path_prob", "grad_clip", "cutout")
_DEFAULT_F = {"imagenet": 1056, "cifar10": 768}


HELP = "train a found cell at N @ F on ImageNet (or CIFAR-10) with Ray Train"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--genotype", required=True, help="results/<run>/best_genotype.json or a published cell"
    )
    parser.add_argument("--dataset", choices=("imagenet", "cifar10"), default="imagenet")
    common.add_size_arguments(parser, default_N=4, default_F=None)
    parser.add_argument(
        "--image-size",
        type=common.integer(1, 4096),
        help="training crop (default 224 for ImageNet; 331 for large)",
    )
    train = parser.add_argument_group("training (defaults: the dataset's recipe)")
    train.add_argument("--epochs", type=common.integer(1, 100_000))
    train.add_argument(
        "--batch-size",
        type=common.integer(1, 1 << 20),
        help="per worker; the global batch is this times --workers",
    )
    train.add_argument(
        "--lr", type=common.real(0, None, low_open=True), help="base learning rate, for the global batch"
    )
    train.add_argument("--optimizer", choices=("sgd", "rmsprop"), default="sgd")
    train.add_argument("--schedule", choices=("cosine", "exponential"), help="default: by optimizer")
    train.add_argument(
        "--warmup-epochs", type=common.real(0, 100_000), default=0.0, help="linear learning-rate warm-up"
    )
    train.add_argument("--weight-decay", type=common.real(0, 1))
    train.add_argument(
        "--drop-path", dest="drop_path_prob", type=common.real(0, 0.99), help="final ScheduledDropPath prob"
    )
    train.add_argument("--grad-clip", type=common.real(0, 1e6, low_open=True))
    train.add_argument("--cutout", type=common.integer(0, 32), help="CIFAR-10 only: cutout square side")
    train.add_argument("--seed", type=common.integer(0, 2**32 - 1), default=0)
    cluster = parser.add_argument_group("workers")
    cluster.add_argument(
        "--workers", type=common.integer(1, 4096), default=1, help="Ray Train workers (DDP ranks)"
    )
    cluster.add_argument(
        "--gpus-per-worker",
        type=common.real(0, 1024),
        help="default: 1 when the cluster has GPUs, else 0 (CPU, gloo)",
    )
    cluster.add_argument(
        "--cpus-per-worker",
        type=common.real(0, 1 << 20, low_open=True),
        default=1.0,
        help="also sizes each data loader",
    )
    cluster.add_argument("--address", help="Ray cluster address (default: a local Ray for this run)")
    io = parser.add_argument_group("data and output")
    io.add_argument("--data-dir", help="ImageFolder root (train/, val/) or the CIFAR-10 folder")
    io.add_argument("--out", type=Path, help="default: results/<run>/transfer or results/transfer/<name>")
    io.add_argument(
        "--resume", action="store_true", help="continue the run in --out after its last checkpoint"
    )
    io.add_argument("--dry-run", action="store_true", help="only build the network and count its size")
    tracking = parser.add_argument_group("W&B (one run per transfer, logged when training ends)")
    tracking.add_argument(
        "--wandb",
        choices=MODES,
        default="auto",
        help="auto: online with $WANDB_API_KEY, else offline (default); files go under --out",
    )
    tracking.add_argument("--wandb-project", default="nas")
    tracking.add_argument("--wandb-entity")
    common.add_json_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.errors import ConfigError
    from nas.model.network import NetworkConfig
    from nas.space.published import resolve_genotype
    from nas.tracking.base import TrackingConfig
    from nas.tracking.factory import log_transfer
    from nas.transfer.ray_train import ClusterConfig, TransferConfig, network_summary, run_transfer

    genotype = resolve_genotype(args.genotype)
    recipe = IMAGENET_RECIPE if args.dataset == "imagenet" else PAPER_SCHEDULE
    values = {k: recipe.get(k, 0) for k in (*_SHARED_FIELDS, "label_smoothing")}  # absent: off
    values |= {k: getattr(args, k) for k in _SHARED_FIELDS if getattr(args, k) is not None}
    fields: dict[str, Any] = {
        "dataset": args.dataset,
        "N": args.N,
        "image_size": args.image_size,
        "auxiliary": True,
        "drop_path_prob": values["drop_path_prob"],
    }
    if args.dataset == "imagenet" and args.data_dir is not None:
        from nas.train.imagenet_data import class_names

        fields["num_classes"] = len(class_names(args.data_dir))  # the classifier fits the data given
    network = (
        NetworkConfig(C=args.C, **fields)
        if args.C is not None
        else NetworkConfig.from_filters(genotype, args.F or _DEFAULT_F[args.dataset], **fields)
    )
    common.check_network_size(genotype, network)
    if args.dry_run:
        summary = network_summary(genotype, network)
        _emit(
            args,
            summary,
            f"{summary['params'] / 1e6:.2f}M params, {summary['mult_adds'] / 1e6:.1f}M mult-adds",
        )
        return 0
    if args.data_dir is None:
        raise ConfigError("--data-dir is required (an ImageFolder root, or the CIFAR-10 folder)")
    config = TransferConfig(
        genotype=genotype.to_dict(),
        network=network.to_dict(),
        data_dir=str(Path(args.data_dir).expanduser().resolve()),
        optimizer=args.optimizer,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        seed=args.seed,
        loader_workers=max(int(args.cpus_per_worker) - 1, 0),  # one CPU trains, the rest decode
        **values,
    )
    cluster = ClusterConfig(
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        address=args.address,
    )
    out = common.check_output_dir(args.out or _default_out(args.genotype, genotype), "--out")
    quiet_ray = (
        common.ray_output_to(out / "driver.log", kept_if=out / "ray")
        if args.json
        else contextlib.nullcontext()
    )
    with quiet_ray:  # under --json, Ray's and the workers' lines go to the log, not stderr
        record = run_transfer(config, cluster, out, resume=args.resume)
    tracking = TrackingConfig(
        mode=args.wandb,
        project=args.wandb_project,
        entity=args.wandb_entity,
        group=out.parent.name if out.name == "transfer" else out.name,  # the search's group, if any
        dir=out,
    )
    log_transfer(tracking, record)
    export = common.export_command(out)
    line = (
        f"top-1 {record['top1']:.4f}  top-5 {record['top5']:.4f} after {record['epochs']} epochs, "
        f"{record['images_per_s']:.0f} img/s; saved to {out / 'result.json'}\nexport: {export}"
    )
    summary = {k: v for k, v in record.items() if k != "config"} | {"out": str(out), "export": export}
    _emit(args, summary, line)
    return 0


def _emit(args: argparse.Namespace, summary: dict[str, Any], line: str) -> None:
    if args.json:
        common.print_json(summary)
    else:
        size = f"{summary['N']} @ {summary['F']} (C={summary['C']}, {summary['image_size']}px)"
        print(f"{summary['genotype']} {size}: {line}")


def _default_out(arg: str, genotype: Genotype) -> Path:
    """``results/<run>/transfer`` beside a run's genotype file, else ``results/transfer/<name>``."""
    from nas.space.genotype import file_stem

    path = Path(arg)
    if path.is_file():
        return (
            path.parent / "transfer"
            if path.name == "best_genotype.json"
            else Path("results", "transfer", file_stem(path.stem))
        )
    return Path("results", "transfer", file_stem(genotype.name or arg))
