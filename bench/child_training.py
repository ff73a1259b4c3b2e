"""Proxy-child training throughput: our on-device loader and trainer against the usual DataLoader loop.

The child is the search's proxy (NASNet-A cells, N normal cells per stage, C channels, CIFAR-10
32x32) trained for the same number of SGD steps on the same images by
  (a) `nas.train.trainer.train_child`: the uint8 dataset as one tensor on the device, crop/flip/normalize
      for the whole batch in one gather (`nas.train.data.AugmentedBatches`), and
  (b) the loop most users write: a ``Dataset`` over the same uint8 arrays with torchvision's
      RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize per PIL image, a
      ``DataLoader`` with ``num_workers=2``, the same model, optimizer, schedule, loss and clipping.
Both are warmed up first and timed side by side in one process; images/s counts training steps
only (no evaluation). Each runs in both memory layouts (and, on CUDA, fp32 and bf16), so the gain of
the data pipeline can be told apart from that of the layout; the CPU rows are how
`nas.train.trainer.CPU_CHANNELS_LAST` was chosen. The summary ratio compares the defaults: our trainer as
configured out of the box against the plain loop in NCHW fp32.

``--rows cuda`` (what `bench/gpu_check.sh` runs) times only CUDA rows, each factor alone: bf16 against
fp32 and channels_last against NCHW for our trainer, and the two loops at the same layout and
precision (the data pipeline alone). ``--rows compile`` times our trainer eager against
``torch.compile``; the compiled child's first epoch (which compiles) is left out of its figure.

    python bench/child_training.py [--data-dir DIR] [--N 1 --C 8 --batch-size 32 --steps 30] [--json]
                                   [--rows default|cuda|compile]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from nas.model.network import NetworkConfig
    from nas.space.genotype import Genotype
    from nas.train.data import CifarData
    from nas.train.trainer import TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "cifar10"


def ours(
    genotype: Genotype, network: NetworkConfig, train: TrainConfig, data: CifarData, warmup: int, steps: int
) -> float:
    """Images/s of `train_child` over ``steps`` steps, after a warm-up child of ``warmup`` steps."""
    from nas.train.trainer import train_child

    train_child(genotype, network, replace(train, max_steps=warmup), data)
    result = train_child(genotype, network, replace(train, max_steps=steps), data)
    if result.status != "completed" or result.images_per_s is None:
        raise RuntimeError(f"our trainer failed: {result.error}")
    return result.images_per_s


def ours_compiled(
    genotype: Genotype, network: NetworkConfig, train: TrainConfig, data: CifarData, warmup: int, steps: int
) -> float:
    """Images/s of `train_child` with ``torch.compile``: the second epoch of ``steps`` steps (the first
    one compiles, and also serves as the warm-up; ``warmup`` is not used)."""
    from collections.abc import Mapping

    from nas.train.trainer import train_child

    per_epoch: list[float] = []

    def report(epoch: int, metrics: Mapping[str, float]) -> None:
        per_epoch.append(metrics["images_per_s"])

    config = replace(train, compile=True, epochs=2, train_size=steps * train.batch_size)
    result = train_child(genotype, network, config, data, report)
    if result.status != "completed" or len(per_epoch) < 2:
        raise RuntimeError(f"our trainer failed under torch.compile: {result.error}")
    return per_epoch[1]


class _PilCifar:
    """A map-style dataset over uint8 NCHW arrays returning (transformed PIL image, label)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Any) -> None:
        self.images = images.transpose(0, 2, 3, 1)  # HWC, as torchvision's CIFAR10 keeps them
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def dataloader_loop(
    genotype: Genotype, network: NetworkConfig, train: TrainConfig, data: CifarData, warmup: int, steps: int
) -> float:
    """Images/s of the plain DataLoader loop over ``steps`` steps, after ``warmup`` steps.

    It honours ``train.channels_last`` and ``train.amp`` (bf16 on CUDA) so that the memory layout
    and precision can be told apart from the data pipeline.
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from nas.model.network import build_network
    from nas.train.data import CIFAR10_MEAN, CIFAR10_STD
    from nas.train.trainer import resolve_device

    device = resolve_device(train.device)
    layout = torch.channels_last if train.channels_last else torch.contiguous_format
    torch.manual_seed(train.seed)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ]
    )
    dataset = _PilCifar(data.train.images.numpy(), data.train.labels.numpy(), transform)
    loader = DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=train.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=2,
        pin_memory=device.type == "cuda",
    )
    model = build_network(genotype, network).to(device, memory_format=layout)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=train.lr, momentum=train.momentum, nesterov=train.nesterov,
        weight_decay=train.weight_decay,
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=warmup + steps)
    model.train()
    done, start = 0, 0.0
    while done < warmup + steps:
        for x, y in loader:
            if done == warmup:
                _sync(device)
                start = time.perf_counter()
            x = x.to(device, non_blocking=True, memory_format=layout)
            y = y.to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=torch.bfloat16, enabled=train.amp and device.type == "cuda"
            ):
                loss = F.cross_entropy(model(x).logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if train.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
            optimizer.step()
            schedule.step()
            done += 1
            if done == warmup + steps:
                break
    _sync(device)
    return steps * train.batch_size / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", help="CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/...)")
    parser.add_argument("--genotype", default="nasnet-a", help="published name or genotype JSON file")
    parser.add_argument("--N", type=int, default=1, help="normal cells per stage")
    parser.add_argument("--C", type=int, default=8, help="channels per block in the first stage")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before each timing")
    parser.add_argument(
        "--rows",
        choices=("default", "cuda", "compile"),
        default="default",
        help="default: CPU rows (and CUDA ones if present); cuda: every CUDA factor; compile: eager vs compiled",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return parser.parse_args(argv)


Runner = Callable[["Genotype", "NetworkConfig", "TrainConfig", "CifarData", int, int], float]


def _variants(rows: str, cpu: TrainConfig, cuda: bool) -> list[tuple[str, Runner, TrainConfig]]:
    """The rows to time: name, runner, configuration."""
    gpu = replace(cpu, device="cuda")
    bf16_cl, fp32_nchw = replace(gpu, amp=True, channels_last=True), replace(gpu, channels_last=False)
    if rows == "compile":
        return [
            ("cuda ours bf16 channels_last", ours, bf16_cl),
            ("cuda ours bf16 channels_last compile", ours_compiled, bf16_cl),
        ]
    cuda_rows: list[tuple[str, Runner, TrainConfig]] = [
        ("cuda ours bf16 channels_last", ours, bf16_cl),
        ("cuda ours fp32 NCHW", ours, fp32_nchw),
        ("cuda dataloader fp32 NCHW", dataloader_loop, fp32_nchw),
        ("cuda dataloader bf16 channels_last", dataloader_loop, bf16_cl),
    ]
    if rows == "cuda":
        return [
            *cuda_rows,
            ("cuda ours fp32 channels_last", ours, replace(gpu, channels_last=True)),
            ("cuda ours bf16 NCHW", ours, replace(gpu, amp=True, channels_last=False)),
        ]
    cpu_rows: list[tuple[str, Runner, TrainConfig]] = [
        ("cpu ours channels_last", ours, replace(cpu, channels_last=True)),
        ("cpu ours NCHW", ours, replace(cpu, channels_last=False)),
        ("cpu dataloader NCHW", dataloader_loop, replace(cpu, channels_last=False)),
        ("cpu dataloader channels_last", dataloader_loop, replace(cpu, channels_last=True)),
    ]
    return cpu_rows + (cuda_rows if cuda else [])


def _ratios(rows: dict[str, float]) -> dict[str, float]:
    """Each ratio whose two rows were timed. The ``speedup_vs_dataloader_*`` ones compare what each
    side gets by default: our trainer's layout (and, on CUDA, bf16) against the usual NCHW fp32 loop."""
    from nas.train.trainer import CPU_CHANNELS_LAST

    best = "cuda ours bf16 channels_last"
    pairs = {
        "speedup_vs_dataloader_cpu": (
            "cpu ours channels_last" if CPU_CHANNELS_LAST else "cpu ours NCHW",
            "cpu dataloader NCHW",
        ),
        "speedup_vs_dataloader_cuda": (best, "cuda dataloader fp32 NCHW"),
        "pipeline_vs_dataloader_cuda": (best, "cuda dataloader bf16 channels_last"),
        "bf16_vs_fp32": (best, "cuda ours fp32 channels_last"),
        "channels_last_vs_nchw": (best, "cuda ours bf16 NCHW"),
        "compile_vs_eager": ("cuda ours bf16 channels_last compile", best),
    }
    return {key: rows[a] / rows[b] for key, (a, b) in pairs.items() if a in rows and b in rows}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout
    import torch

    from nas.model.network import NetworkConfig
    from nas.space.published import resolve_genotype
    from nas.train.data import ENV_VAR, load_cifar10
    from nas.train.trainer import TrainConfig

    data = load_cifar10(args.data_dir or os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR)
    genotype = resolve_genotype(args.genotype)
    network = NetworkConfig(N=args.N, C=args.C)
    if args.rows != "default" and not torch.cuda.is_available():
        print(
            f"child_training.py: error: --rows {args.rows} needs CUDA, and torch sees none", file=sys.stderr
        )
        return 2
    cpu = TrainConfig(epochs=1, batch_size=args.batch_size, device="cpu", amp=False)
    variants = _variants(args.rows, cpu, torch.cuda.is_available())
    rows: dict[str, float] = {}
    for name, run, config in variants:
        rows[name] = run(genotype, network, config, data, args.warmup, args.steps)
        if not args.json:
            print(f"{name:<36} {rows[name]:8.1f} img/s")
    speedups = _ratios(rows)
    if args.json:
        child = {"genotype": args.genotype, "N": args.N, "C": args.C, "batch_size": args.batch_size}
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else None
        print(
            json.dumps(
                {
                    "child": child,
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "cpu_threads": torch.get_num_threads(),
                    "cuda_device": device,
                    "images_per_s": rows,
                    **speedups,
                }
            )
        )
        return 0
    headline = "speedup_vs_dataloader_cuda" if "speedup_vs_dataloader_cuda" in speedups else None
    for key, value in sorted(speedups.items(), key=lambda kv: (kv[0] == headline, kv[0])):  # headline last
        print(f"{key}: {value:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
