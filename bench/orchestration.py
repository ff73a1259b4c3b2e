"""Orchestration efficiency of `nas search` on local Ray: how much of the slots' time trains children.

    efficiency = sum of the children's busy time / (search wall time x concurrent slots)

A child's busy time is its own ``wall_s`` (build, count, train, evaluate: `nas.train.trainer.train_child`);
the search wall time is `nas.search.runner.run_search`'s, from building the searcher to the last row written,
after Ray has started (``ray.init`` is a one-off cost of the process, reported apart). What is lost is
Tune's scheduling, worker start-up and reuse, data loading in each worker, result reporting and the
tail where fewer children than slots are left. Children are real: the random searcher's cells
trained for one epoch on the CIFAR subset.

    python bench/orchestration.py [--children 16 --concurrent 2 --train-size 2048] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "cifar10"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", help="CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/...)")
    parser.add_argument("--children", type=int, default=16, help="children in the search")
    parser.add_argument("--concurrent", type=int, default=2, help="children at once (the slots)")
    parser.add_argument("--searcher", default="random")
    parser.add_argument("--C", type=int, default=8, help="channels per block of a child")
    parser.add_argument("--blocks", type=int, default=5, help="blocks per cell")
    parser.add_argument("--train-size", type=int, default=2048, help="training images per child")
    parser.add_argument("--val-size", type=int, default=512)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.children < 1 or args.concurrent < 1:
        parser.error("--children and --concurrent must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout
    from nas.search.cluster import connect
    from nas.search.runner import open_run, run_search
    from nas.search.settings import SearchSettings
    from nas.train.data import ENV_VAR

    data_dir = args.data_dir or os.environ.get(ENV_VAR) or str(DEFAULT_DATA_DIR)
    with tempfile.TemporaryDirectory(prefix="nas-orchestration-") as results:
        settings = SearchSettings(
            searcher=args.searcher,
            trials=args.children,
            epochs=1,
            N=1,
            C=args.C,
            blocks=args.blocks,
            train_size=args.train_size,
            val_size=args.val_size,
            data_dir=data_dir,
            max_concurrent=args.concurrent,
            name="bench",
            results_dir=results,
            wandb="disabled",
        )
        settings.validate()
        started = time.perf_counter()
        connect(None)
        ray_init_s = time.perf_counter() - started
        run = open_run(settings)
        outcome = run_search(settings, run)
        rows = run.trials()
    busy = [r.wall_s for r in rows if r.wall_s is not None]
    efficiency = sum(busy) / (outcome.wall_s * args.concurrent)
    figures = {
        "children": len(rows),
        "completed": outcome.trials_completed,
        "slots": args.concurrent,
        "cpu_count": os.cpu_count(),
        "ray_init_s": ray_init_s,
        "search_wall_s": outcome.wall_s,
        "children_busy_s": sum(busy),
        "mean_child_s": sum(busy) / max(len(busy), 1),
        "idle_slot_s_per_child": (outcome.wall_s * args.concurrent - sum(busy)) / max(len(rows), 1),
        "orchestration_efficiency": efficiency,
    }
    if args.json:
        print(json.dumps({"settings": settings.to_dict() | {"results_dir": None}, **figures}))
        return 0
    for key, value in figures.items():
        if key != "orchestration_efficiency":
            print(f"{key:<24} {value:.2f}" if isinstance(value, float) else f"{key:<24} {value}")
    print(f"orchestration_efficiency: {efficiency:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
