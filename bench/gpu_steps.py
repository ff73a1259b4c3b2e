"""The Python steps of `bench/gpu_check.sh` (each a subcommand, run under the script's time box).

    python bench/gpu_steps.py env OUT.json                    # torch, CUDA, GPU, Ray/Optuna as found
    python bench/gpu_steps.py proxy OUT.json [--epochs 20 --N 1 --C 8 --batch-size 32 ...]
    python bench/gpu_steps.py imagefolder DIR [--per-class 32 --size 64]
    python bench/gpu_steps.py search-rate OUT.json SEARCH_STDOUT
    python bench/gpu_steps.py summarize WORK_DIR OUT.json      # steps' records -> one JSON, one line

``proxy`` trains one child as the search does (`nas.train.trainer.train_child`, the search's data
split) for several epochs and records each epoch's wall time and images/s, and the GPU's utilisation
sampled every 0.1 s by NVML (nvidia-ml-py) while it trains. ``summarize`` uses the standard library
only, so that it can report even when torch itself fails to import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SKIPPED = 77  # exit code of a step that could not apply here (gpu_check.sh records it as skipped)


def _write(path: str | Path, record: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(record, indent=1, default=str) + "\n")


def env(out: str) -> int:
    """What the machine offers: the record every figure of the run is read against."""
    import platform

    import torch

    record: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "torch_cuda": torch.version.cuda,
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        record |= {
            "gpu": torch.cuda.get_device_name(0),
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "multiprocessors": props.multi_processor_count,
            "cudnn": torch.backends.cudnn.version(),
        }
        try:
            nccl = torch.cuda.nccl.version()
            record["nccl"] = ".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl)
        except Exception as exc:
            record["nccl"] = f"unavailable ({type(exc).__name__})"
    for name in ("ray", "optuna", "torchvision", "numpy", "pynvml", "wandb"):
        try:
            module = __import__(name)
            record[name] = getattr(module, "__version__", "present")
        except Exception as exc:
            record[name] = f"missing ({type(exc).__name__}: {exc})"[:200]
    _write(out, record)
    print(json.dumps(record))
    return 0


class GpuSampler:
    """Samples the GPU's utilisation (%) and memory in a thread through NVML; empty without it."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.util: list[int] = []
        self.memory_mib: list[float] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as exc:  # no NVML (CPU machine, dry run): utilisation is not measured
            self.error = f"{type(exc).__name__}: {exc}"[:200]
            return
        while not self._stop.wait(self.interval_s):
            self.util.append(int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu))
            self.memory_mib.append(pynvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20)

    def summary(self) -> dict[str, Any]:
        if not self.util:
            return {"gpu_util_mean": None, "gpu_util_samples": 0, "nvml": self.error or "no samples"}
        return {
            "gpu_util_mean": round(sum(self.util) / len(self.util), 1),
            "gpu_util_max": max(self.util),
            "gpu_util_samples": len(self.util),
            "gpu_memory_used_mib_max": round(max(self.memory_mib)),
        }


def proxy(args: argparse.Namespace) -> int:
    """One proxy child trained for ``--epochs`` epochs, as the search trains it, timed per epoch."""
    from collections.abc import Mapping

    from nas.model.network import NetworkConfig
    from nas.space.published import resolve_genotype
    from nas.train.data import load_cifar10
    from nas.train.trainer import TrainConfig, resolve_device, train_child

    device = resolve_device(args.device)
    data = load_cifar10(args.data_dir, train_size=args.train_size, val_size=args.val_size)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=device.type, seed=0
    )
    epochs: list[dict[str, float]] = []
    last = [time.perf_counter()]

    def report(epoch: int, metrics: Mapping[str, float]) -> None:
        now = time.perf_counter()
        epochs.append({"epoch": epoch, "wall_s": round(now - last[0], 3), **metrics})
        last[0] = now

    with GpuSampler() as sampler:
        result = train_child(
            resolve_genotype(args.genotype), NetworkConfig(N=args.N, C=args.C), config, data, report
        )
    walls = [e["wall_s"] for e in epochs]
    later = walls[1:] or walls  # the first epoch carries cudnn autotuning and allocator warm-up
    record = {
        "device": str(device),
        "child": {"genotype": args.genotype, "N": args.N, "C": args.C, "batch_size": args.batch_size},
        "train_images": len(data.train),
        "status": result.status,
        "error": result.error,
        "params": result.params,
        "val_accuracy": result.val_accuracy,
        "epochs_done": result.epochs_done,
        "wall_s": round(result.wall_s, 2),
        "first_epoch_s": walls[0] if walls else None,
        "epoch_s_mean_after_first": round(sum(later) / len(later), 3) if later else None,
        "images_per_s": result.images_per_s,
        "epochs": epochs,
        **sampler.summary(),
    }
    _write(args.out, record)
    print(json.dumps({k: v for k, v in record.items() if k != "epochs"}))
    return 0 if result.status == "completed" else 1


def imagefolder(root: str, per_class: int, size: int, data_dir: str | None) -> int:
    """A tiny ImageFolder (``train/`` and ``val/``, 3 classes) of upsampled CIFAR images, as JPEG."""
    import torch
    from torchvision.io import write_jpeg

    from nas.train.data import load_cifar10

    data = load_cifar10(data_dir, val_size=10)
    for c in range(3):
        picked = data.train.images[data.train.labels == c][: per_class + per_class // 4]
        big = torch.nn.functional.interpolate(picked.float(), size=size, mode="bilinear")
        for i, image in enumerate(big.round().clamp(0, 255).to(torch.uint8)):
            folder = Path(root) / ("train" if i < per_class else "val") / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            write_jpeg(image, str(folder / f"{i}.jpg"), quality=90)
    print(f"{root}: 3 classes, {per_class} train images each, {size}px")
    return 0


def search_rate(out: str, stdout_file: str, gpus_per_trial: float) -> int:
    """Children per minute of a finished ``nas search --json`` run, from its summary and leaderboard."""
    lines = [line for line in Path(stdout_file).read_text().splitlines() if line.startswith("{")]
    if not lines:
        print("no JSON summary in the search's output")
        return 1
    summary = json.loads(lines[-1])
    rows = [
        json.loads(line)
        for line in (Path(summary["run_dir"]) / "trials.jsonl").read_text().splitlines()
        if line.strip()
    ]
    child_s = [float(r["wall_s"]) for r in rows if r.get("wall_s")]
    record = {
        "gpus_per_trial": gpus_per_trial,
        "trials_done": summary["trials_done"],
        "trials_completed": summary["trials_completed"],
        "trials_failed": summary["trials_failed"],
        "search_wall_s": round(summary["wall_s"], 2),
        "children_per_min": round(60 * summary["trials_done"] / summary["wall_s"], 2),
        "child_wall_s_mean": round(sum(child_s) / len(child_s), 2) if child_s else None,
        "best_val_accuracy": summary["best_val_accuracy"],
        "errors": sorted({str(r["error"])[:160] for r in rows if r.get("error")})[:3],
    }
    _write(out, record)
    print(json.dumps(record))
    return 0 if summary["trials_completed"] > 0 else 1


def _pytest_counts(xml_file: Path) -> dict[str, Any]:
    suite = ET.parse(xml_file).getroot()
    suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
    assert suite is not None
    tests = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    cases = {}
    for case in suite.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = f"{tag}: {(found.get('message') or '')[:200]}"
        cases[case.get("name", "?")] = outcome
    return tests | {"cases": cases}


def _last_json(text: str) -> dict[str, Any] | None:
    """The last JSON object a step printed (one line, or indented), ignoring what follows it."""
    lines = text.splitlines()
    for i in reversed(range(len(lines))):
        if lines[i].startswith("{"):
            try:
                found, _ = json.JSONDecoder().raw_decode("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    return None


def summarize(work: str, out: str) -> int:
    """Gather each step's record (``<step>.meta`` from the script, ``<step>.json`` from the step)."""
    work_dir = Path(work)
    meta = json.loads((work_dir / "run.json").read_text())
    steps: dict[str, Any] = {}
    for meta_file in sorted(work_dir.glob("*.meta"), key=lambda p: p.stat().st_mtime):
        name = meta_file.stem
        step = json.loads(meta_file.read_text())
        result_file = work_dir / f"{name}.json"
        if result_file.is_file():
            try:
                step["result"] = json.loads(result_file.read_text())
            except json.JSONDecodeError as exc:
                step["result_error"] = str(exc)
        elif (work_dir / f"{name}.out").is_file():
            step["result"] = _last_json((work_dir / f"{name}.out").read_text())
        if (work_dir / f"{name}.xml").is_file():
            step["result"] = _pytest_counts(work_dir / f"{name}.xml")
        steps[name] = step
    figures = _figures(steps)
    counts = {
        s: sum(v["status"] == s for v in steps.values()) for s in ("ok", "failed", "timeout", "skipped")
    }
    record = {**meta, "steps": steps, "figures": figures, "counts": counts}
    Path(out).write_text(json.dumps(record, indent=1, default=str) + "\n")
    for name, step in steps.items():
        print(
            f"{name:<22} {step['status']:<8} {step['seconds']:6.1f} s / {step['budget_s']:3d} s  {step.get('reason', '')}"
        )
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(
        f"gpu_check: {counts['ok']} ok, {counts['failed']} failed, {counts['timeout']} timed out, "
        f"{counts['skipped']} skipped on {meta.get('gpu') or 'cpu'} in {meta.get('wall_s', 0):.0f} s"
    )
    return 1 if counts["failed"] or counts["timeout"] else 0


def _figures(steps: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers, side by side (absent where their step did not run)."""
    figures: dict[str, Any] = {}

    def result(name: str) -> dict[str, Any]:
        step = steps.get(name, {})
        return step.get("result") or {} if step.get("status") == "ok" else {}

    ratios = result("2a_child_training") | result("2b_child_compile")
    for key in (
        "speedup_vs_dataloader_cuda",
        "pipeline_vs_dataloader_cuda",
        "bf16_vs_fp32",
        "channels_last_vs_nchw",
        "compile_vs_eager",
        "speedup_vs_dataloader_cpu",
    ):
        if key in ratios:
            figures[key] = round(ratios[key], 2)
    for name in ("3a_proxy_default", "3b_proxy_N2"):
        proxy_result = result(name)
        if proxy_result:
            figures[f"{name}_epoch_s"] = proxy_result["epoch_s_mean_after_first"]
            figures[f"{name}_gpu_util"] = proxy_result["gpu_util_mean"]
    for name in sorted(steps):
        if name.startswith("4_search"):
            rate = result(name)
            if rate:
                figures[f"children_per_min_gpus_{rate['gpus_per_trial']}"] = rate["children_per_min"]
    transfer = result("5_transfer")
    if transfer:
        figures["transfer_images_per_s"] = round(transfer.get("images_per_s") or 0, 1)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env").add_argument("out")
    p = sub.add_parser("proxy")
    p.add_argument("out")
    p.add_argument("--genotype", default="nasnet-a")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-dir", default=os.environ.get("NAS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--N", type=int, default=1)
    p.add_argument("--C", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)  # the search's defaults (SearchSettings)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--train-size", type=int, default=2048)
    p.add_argument("--val-size", type=int, default=512)
    p = sub.add_parser("imagefolder")
    p.add_argument("root")
    p.add_argument("--per-class", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--data-dir", default=os.environ.get("NAS_DATA_DIR"))
    p = sub.add_parser("search-rate")
    p.add_argument("out")
    p.add_argument("stdout_file")
    p.add_argument("--gpus-per-trial", type=float, required=True)
    p = sub.add_parser("summarize")
    p.add_argument("work")
    p.add_argument("out")
    args = parser.parse_args(argv)
    if args.command == "env":
        return env(args.out)
    if args.command == "proxy":
        return proxy(args)
    if args.command == "imagefolder":
        return imagefolder(args.root, args.per_class, args.size, args.data_dir)
    if args.command == "search-rate":
        return search_rate(args.out, args.stdout_file, args.gpus_per_trial)
    return summarize(args.work, args.out)


if __name__ == "__main__":
    sys.exit(main())
