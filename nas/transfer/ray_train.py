"""Transfer a found cell: stack it into a large network and train it on many workers with Ray Train.

NASNet's central claim is that a cell searched on CIFAR-10 transfers: stacked N times per stage at
width F it gives an ImageNet network (Zoph et al. 2018, Sec. 4.2, "N @ F"). This module trains that
network with the paper's ImageNet recipe (Appendix A): label smoothing 0.1, the auxiliary head's loss
weighted 0.4, ScheduledDropPath, RMSProp (decay 0.9, epsilon 1.0) with the learning rate decayed
0.97 every 2.4 epochs, or SGD with cosine decay as DARTS does; a linear warm-up; gradient-norm clip.
Top-1 and top-5 are measured on the validation split after every epoch. ``dataset="cifar10"`` runs the
papers' final CIFAR-10 evaluation (e.g. 6 @ 768, 600 epochs, cutout) through the same path, with
`nas.train.data`'s on-device batches sharded by rank.

Distribution is Ray Train's data-parallel ``TorchTrainer`` (DDP: gloo on the CPU, NCCL on CUDA), on
the search's Ray cluster when given its address. Rank 0 checkpoints every epoch through
``ray.train.report``; the file holds only ``state_dict``s of plain tensors (model, optimizer,
scheduler) and the history, loaded back with ``weights_only=True``. Ray Train V2 (the default in
Ray 2.60) restores a run by itself when a trainer is started again with the same ``name`` and
``storage_path``: ``ray.train.get_checkpoint()`` then returns the latest checkpoint, so resuming is
re-running (``TorchTrainer.restore`` and ``resume_from_checkpoint`` are deprecated there).

Ray is imported only inside `run_transfer` and the worker loop, never at module import.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.errors import ConfigError, DataError, first_line
from nas.model.checkpoint import network_state
from nas.model.counting import count_mult_adds, count_params
from nas.model.network import NASNetwork, NetworkConfig, build_network
from nas.space.genotype import Genotype
from nas.train.loop import LossSettings, topk_counts, train_epoch
from nas.train.recipes import Recipe

logger = logging.getLogger(__name__)

RUN_NAME = "transfer"
STATE_FILE = "state.pt"
HISTORY_FILE = "history.json"
OPTIMIZERS = ("sgd", "rmsprop")
SCHEDULES = ("cosine", "exponential")
EXP_DECAY = 0.97  # NASNet: the learning rate is multiplied by 0.97 ...
EXP_DECAY_EPOCHS = 2.4  # ... every 2.4 epochs (Zoph et al. 2018, Appendix A)
RMSPROP_ALPHA = 0.9  # NASNet's RMSProp decay; torch calls it alpha
RMSPROP_EPS = 1.0  # NASNet's epsilon, large on purpose: it damps the first steps
TOPK = (1, 5)


@dataclass(frozen=True, kw_only=True)
class TransferConfig(Recipe):
    """Everything a worker needs; plain data so Ray can ship it as ``train_loop_config``.

    ``batch_size`` is per worker (the global batch is ``batch_size * workers``); scale ``lr`` with
    it. ``schedule=None`` picks NASNet's pairing: exponential decay for RMSProp, cosine for SGD.
    """

    genotype: dict[str, Any]
    network: dict[str, Any]
    data_dir: str
    aux_weight: float = 0.4  # NASNet's auxiliary head, on in every transfer
    optimizer: str = "sgd"
    schedule: str | None = None
    warmup_epochs: float = 0.0
    loader_workers: int = 2
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.warmup_epochs < 0:
            raise ConfigError("epochs and batch_size must be >= 1, lr positive, warmup_epochs >= 0")
        if not 0.0 <= self.drop_path_prob < 1.0:
            raise ConfigError(f"drop_path_prob must be in [0, 1), got {self.drop_path_prob}")

    @property
    def lr_schedule(self) -> str:
        return self.schedule or ("exponential" if self.optimizer == "rmsprop" else "cosine")

    def network_config(self) -> NetworkConfig:
        return NetworkConfig(**self.network)


@dataclass(frozen=True)
class ClusterConfig:
    """Where and how wide to train: ``address=None`` starts a local Ray instance for this run."""

    workers: int = 1
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs, else 0
    cpus_per_worker: float = 1.0
    address: str | None = None

    def __post_init__(self) -> None:
        gpus_ok = self.gpus_per_worker is None or self.gpus_per_worker >= 0
        if self.workers < 1 or self.cpus_per_worker <= 0 or not gpus_ok:
            raise ConfigError("workers must be >= 1, cpus_per_worker positive and gpus_per_worker >= 0")


@dataclass
class History:
    """Per-epoch metrics, kept in every checkpoint so a resumed run reports all of its epochs."""

    top1: list[float] = field(default_factory=list)
    top5: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    epoch_s: list[float] = field(default_factory=list)
    resumed_at: list[int] = field(default_factory=list)  # the epochs at which a run picked up

    @property
    def epochs_done(self) -> int:
        return len(self.top1)


def network_summary(genotype: Genotype, config: NetworkConfig) -> dict[str, Any]:
    """N, F, C, image size, params and mult-adds (auxiliary head excluded, as the papers count)."""
    model = build_network(genotype, config)
    assert config.image_size is not None  # NetworkConfig fills it in
    return {
        "genotype": genotype.name,
        "dataset": config.dataset,
        "N": config.N,
        "F": config.filters(genotype),
        "C": config.C,
        "image_size": config.image_size,
        "num_classes": config.num_classes,
        "params": count_params(model),
        "mult_adds": count_mult_adds(model, config.image_size),
    }


def lr_factor(step: int, *, steps_per_epoch: int, epochs: int, warmup_epochs: float, schedule: str) -> float:
    """Multiplier of the base learning rate at optimizer step ``step``, updated every step.

    A linear warm-up over ``warmup_epochs`` (Goyal et al. 2017, for large global batches), then
    cosine annealing to zero over the remaining steps (Loshchilov & Hutter 2017; DARTS) or NASNet's
    0.97 every 2.4 epochs, applied smoothly per step.
    """
    warmup = warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "exponential":
        return float(EXP_DECAY ** ((step - warmup) / (EXP_DECAY_EPOCHS * steps_per_epoch)))
    remaining = max(epochs * steps_per_epoch - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min((step - warmup) / remaining, 1.0)))


def run_transfer(
    config: TransferConfig, cluster: ClusterConfig, out: Path, *, resume: bool
) -> dict[str, Any]:
    """Train on ``cluster.workers`` Ray Train workers; write and return ``out/result.json``'s record.

    Without ``resume`` a folder that already holds a run is refused rather than silently continued
    or overwritten; with it the run picks up after its latest checkpoint (from scratch if none).
    """
    out = out.resolve()
    storage = out / "ray"
    run_dir = storage / RUN_NAME
    if run_dir.exists() and not resume:
        raise ConfigError(
            f"{out} already holds a transfer run: pass --resume to continue it, or another --out"
        )
    if resume and not run_dir.exists():
        raise ConfigError(f"{out}: no transfer run to resume there")
    if config.network["dataset"] == "imagenet":
        from nas.train.imagenet_data import check_image_folder

        check_image_folder(config.data_dir)
    else:
        from nas.train.data import resolve_cifar_dir

        resolve_cifar_dir(config.data_dir)
    genotype = Genotype.from_dict(config.genotype)
    summary = network_summary(genotype, config.network_config())
    if resume:
        check_checkpoints(run_dir)
    out.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from nas.search.cluster import connect, gpus_per_task

    started = time.perf_counter()
    needed = math.ceil(cluster.workers * cluster.cpus_per_worker)
    connect(cluster.address, num_cpus=max(needed, os.cpu_count() or 1), log_to_driver=True)
    try:
        gpus = gpus_per_task(cluster.gpus_per_worker)
        resources = {"CPU": cluster.cpus_per_worker} | ({"GPU": gpus} if gpus > 0 else {})
        trainer = TorchTrainer(
            _train_loop_per_worker,
            train_loop_config=asdict(config),
            scaling_config=ray.train.ScalingConfig(
                num_workers=cluster.workers,
                use_gpu=gpus > 0,
                resources_per_worker=resources,
            ),
            run_config=ray.train.RunConfig(
                name=RUN_NAME,
                storage_path=str(storage),
                checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            ),
        )
        result = trainer.fit()
    finally:
        ray.shutdown()
    if result.checkpoint is None:
        raise DataError(f"{run_dir}: training ended without a checkpoint")
    with result.checkpoint.as_directory() as folder:
        history = History(**json.loads((Path(folder) / HISTORY_FILE).read_text(encoding="utf-8")))
    trained_s = sum(history.epoch_s)
    images = sum(s * r for s, r in zip(history.epoch_s, history.images_per_s, strict=True))
    record = {
        **summary,
        "epochs": history.epochs_done,
        "top1": history.top1[-1],
        "top5": history.top5[-1],
        "best_top1": max(history.top1),
        "history": asdict(history),
        "images_per_s": images / trained_s if trained_s > 0 else None,
        "wall_s": time.perf_counter() - started,  # this invocation, Ray start-up included
        "train_s": trained_s,  # all epochs, across resumptions
        "workers": cluster.workers,
        "gpus_per_worker": gpus,
        "eval_split": "val" if config.network["dataset"] == "imagenet" else "test",
        "config": asdict(config),
        "checkpoint": result.checkpoint.path,
    }
    (out / "result.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def check_checkpoints(run_dir: Path) -> None:
    """Load every checkpoint of ``run_dir`` here, before Ray starts, as the workers will
    (``weights_only=True``): a damaged or tampered one is one line naming its file, not a worker's
    traceback relayed by Ray Train. Every folder holding a state file is one: Ray Train names them
    as the loop does (``epoch_0001``, see `_train_loop_per_worker`), not ``checkpoint_*``."""
    for state_file in sorted(run_dir.glob(f"*/{STATE_FILE}")):
        try:
            torch.load(state_file, map_location="cpu", weights_only=True)
            json.loads((state_file.parent / HISTORY_FILE).read_text(encoding="utf-8"))
        except Exception as exc:  # unpickling refuses with many types; any of them means unusable
            raise DataError(
                f"{state_file.parent}: not a loadable checkpoint ({first_line(exc, limit=200)}); "
                "restore it, or start over with another --out"
            ) from None


def _train_loop_per_worker(raw_config: dict[str, Any]) -> None:
    """One Ray Train worker: build, restore if a checkpoint exists, train, evaluate, checkpoint."""
    import ray.train
    import ray.train.torch

    cfg = TransferConfig(**raw_config)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    on_cuda = device.type == "cuda"
    torch.manual_seed(cfg.seed + rank)  # same init is not needed: DDP broadcasts rank 0's weights

    genotype = Genotype.from_dict(cfg.genotype)
    model = build_network(genotype, cfg.network_config())
    history, state = History(), None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)
            history = History(**json.loads((Path(folder) / HISTORY_FILE).read_text(encoding="utf-8")))
        model.load_state_dict(state["model"])
        logger.info("rank %d: resuming after epoch %d", rank, history.epochs_done)
    history.resumed_at.append(history.epochs_done)
    if on_cuda:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    net = ray.train.torch.prepare_model(model)  # moves to the device, wraps in DDP when world > 1

    train_batches, val_batches, steps_per_epoch = _data(cfg, rank, world, device)
    optimizer = _optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(
            step,
            steps_per_epoch=steps_per_epoch,
            epochs=cfg.epochs,
            warmup_epochs=cfg.warmup_epochs,
            schedule=cfg.lr_schedule,
        ),
    )
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])

    loss = LossSettings(
        label_smoothing=cfg.label_smoothing, aux_weight=cfg.aux_weight, grad_clip=cfg.grad_clip
    )
    for epoch in range(history.epochs_done, cfg.epochs):
        model.set_drop_path_prob(cfg.drop_path_prob * epoch / cfg.epochs)  # ScheduledDropPath
        stats = train_epoch(
            net,
            ((_layout(x, on_cuda), y) for x, y in train_batches(epoch)),
            optimizer,
            scheduler,
            device=device,
            amp=on_cuda,
            loss=loss,
            first_step=epoch * steps_per_epoch,
        )
        train_loss = _all_reduce_sum(stats.loss_sum / max(stats.steps, 1)) / world
        epoch_s = stats.seconds
        top1, top5 = _evaluate(net, val_batches(), device, on_cuda)
        steps = stats.steps
        history.top1.append(top1)
        history.top5.append(top5)
        history.train_loss.append(train_loss)
        history.images_per_s.append(steps * cfg.batch_size * world / epoch_s)
        history.epoch_s.append(epoch_s)
        metrics = {"epoch": epoch + 1, "top1": top1, "top5": top5, "train_loss": train_loss}
        logger.info("rank %d epoch %d/%d: %s", rank, epoch + 1, cfg.epochs, metrics)
        with tempfile.TemporaryDirectory() as folder:
            saved = None
            if rank == 0:
                _save(Path(folder), model, genotype, optimizer, scheduler, history)
                saved = ray.train.Checkpoint.from_directory(folder)
            ray.train.report(metrics, checkpoint=saved, checkpoint_dir_name=f"epoch_{epoch + 1:04d}")


_Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def _data(
    cfg: TransferConfig, rank: int, world: int, device: torch.device
) -> tuple[Callable[[int], _Batches], Callable[[], _Batches], int]:
    """``(train(epoch) -> batches, val() -> batches, steps per epoch)``, this worker's shard of each.

    ImageNet: the ImageFolder loaders, sharded and moved to the device by ``prepare_data_loader``
    (its ``DistributedSampler`` pads the validation shards to equal length, so top-k counts a few
    images twice when the split does not divide evenly). CIFAR-10: on-device augmented batches over
    every ``world``-th of all training images, evaluated on the test batch.
    """
    import ray.train.torch

    if cfg.network["dataset"] == "imagenet":
        from nas.train.imagenet_data import image_folder_loaders

        image_size = cfg.network_config().image_size
        assert image_size is not None
        train, val, num_classes = image_folder_loaders(
            cfg.data_dir,
            image_size=image_size,
            batch_size=cfg.batch_size,
            num_workers=cfg.loader_workers,
            pin_memory=device.type == "cuda",
        )
        if num_classes != cfg.network_config().num_classes:
            raise DataError(
                f"{cfg.data_dir}: {num_classes} classes, the network has {cfg.network['num_classes']}"
            )
        train = ray.train.torch.prepare_data_loader(train)
        val_loader = ray.train.torch.prepare_data_loader(val)

        def train_epoch(epoch: int) -> _Batches:
            sampler: Any = train.sampler
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)  # a different shuffle every epoch, the same on every rank
            return train

        return train_epoch, lambda: val_loader, len(train)

    from nas.train.data import AugmentedBatches, Split, load_cifar10, normalize

    # The papers' final evaluation: train on every training image (the search's validation split
    # included) and report accuracy on the test batch, which no search has seen.
    data = load_cifar10(cfg.data_dir, split_seed=cfg.split_seed, with_test=True)
    assert data.test is not None
    images = torch.cat([data.train.images, data.val.images])
    labels = torch.cat([data.train.labels, data.val.labels])
    batches = AugmentedBatches(
        Split(images[rank::world], labels[rank::world]).to(device),
        batch_size=cfg.batch_size,
        generator=torch.Generator(device).manual_seed(cfg.seed + rank),
        cutout=cfg.cutout,
    )

    val_shard = Split(data.test.images[rank::world], data.test.labels[rank::world]).to(device)

    def val_batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(val_shard), cfg.batch_size):
            end = start + cfg.batch_size
            yield normalize(val_shard.images[start:end]), val_shard.labels[start:end]

    return lambda epoch: batches, val_batches, len(batches)


def _optimizer(model: nn.Module, cfg: TransferConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            model.parameters(),
            lr=cfg.lr,
            alpha=RMSPROP_ALPHA,
            eps=RMSPROP_EPS,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def _layout(x: torch.Tensor, on_cuda: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if on_cuda else x


def _evaluate(net: nn.Module, batches: _Batches, device: torch.device, on_cuda: bool) -> tuple[float, float]:
    """Top-1 and top-5 accuracy over every worker's validation shard (summed with all-reduce)."""
    laid_out = ((_layout(x, on_cuda), y) for x, y in batches)
    counts = topk_counts(net, laid_out, device=device, amp=on_cuda, topk=TOPK)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(counts)
    total = max(float(counts[-1]), 1.0)
    return float(counts[0]) / total, float(counts[1]) / total


def _all_reduce_sum(value: torch.Tensor) -> float:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        value = value.clone()
        torch.distributed.all_reduce(value)
    return float(value)


def _save(
    folder: Path,
    model: NASNetwork,
    genotype: Genotype,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: History,
) -> None:
    """``state_dict``s only (tensors, numbers, lists, JSON text), loadable with ``weights_only=True``;
    the model's entries are `nas.model.checkpoint.network_state`'s, so `nas export` reads the file alone."""
    state = {
        **network_state(model, genotype),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": history.epochs_done,
    }
    torch.save(state, folder / STATE_FILE)
    (folder / HISTORY_FILE).write_text(json.dumps(asdict(history)), encoding="utf-8")
