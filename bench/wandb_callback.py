"""What W&B tracking costs Ray Tune's driver loop: seconds spent in the tracker's callbacks per child.

Tune calls its callbacks inside its one driver loop, so time spent there delays every child's
scheduling and result handling (Tune warns past 0.5 s: ``The 'callbacks.on_trial_result' operation
took 1.851 s``). This runs a real Tune experiment of fake children (no training: each reports
``--reports`` results, the shape `nas search` children report in) with the W&B tracker's callbacks
in offline mode, and times every call of every hook.

    python bench/wandb_callback.py [--children 8 --reports 2] [--json]

Run it from another checkout (``PYTHONPATH=/path/to/old python bench/wandb_callback.py``) to
compare two versions of `nas.tracking.wandb_runs` on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HOOKS = ("on_trial_start", "on_trial_result", "on_trial_complete", "on_trial_error")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=8)
    parser.add_argument("--reports", type=int, default=2, help="results each child reports")
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return parser.parse_args(argv)


def _timed(method: Callable[..., Any], calls: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - start)

    return wrapper


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("PYTHONPATH"):
        sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout
    os.environ.pop("WANDB_API_KEY", None)
    os.environ.setdefault("WANDB_BASE_URL", "http://127.0.0.1:9")  # offline must not need it
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    from ray import tune

    from nas.tracking.base import TrackingConfig
    from nas.tracking.factory import create_tracker

    reports = args.reports

    def child(config: dict[str, Any]) -> None:
        for epoch in range(reports - 1):
            tune.report({"epoch": epoch, "val_accuracy": 0.2, "train_loss": 1.0, "status": "running"})
        tune.report({"epoch": reports - 1, "val_accuracy": 0.3, "status": "completed", "params": 1})

    timings: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="nas-wandb-bench-") as tmp:
        run_dir = Path(tmp)
        tracker = create_tracker(
            TrackingConfig(mode="offline", group="bench", dir=run_dir), searcher_config={}
        )
        callbacks = tracker.tune_callbacks()
        for callback in callbacks:
            for hook in HOOKS:
                setattr(callback, hook, _timed(getattr(callback, hook), timings[hook]))
        ray.init(num_cpus=args.concurrent, include_dashboard=False, log_to_driver=False)
        started = time.perf_counter()
        try:
            tune.Tuner(
                child,
                param_space={"proposal_id": tune.grid_search([str(i) for i in range(args.children)])},
                tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=args.concurrent),
                run_config=tune.RunConfig(
                    name="bench", storage_path=str(run_dir / "tune"), callbacks=callbacks, verbose=0
                ),
            ).fit()
            fit_s = time.perf_counter() - started
            finish_started = time.perf_counter()
            tracker.finish(best_genotype=None)
            finish_s = time.perf_counter() - finish_started
        finally:
            ray.shutdown()
        runs = len(list((run_dir / "wandb").glob("offline-run-*")))
    total = sum(sum(calls) for calls in timings.values())
    summary = {
        "children": args.children,
        "reports_per_child": reports,
        "hooks": {
            hook: {"calls": len(c), "mean_s": statistics.fmean(c), "max_s": max(c)}
            for hook, c in timings.items()
            if c
        },
        "callback_s_total": total,
        "callback_s_per_child": total / args.children,
        "fit_s": fit_s,
        "finish_s": finish_s,
        "offline_runs": runs,
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{'hook':<20} {'calls':>5} {'mean s':>9} {'max s':>9}")
    for hook, figures in summary["hooks"].items():
        print(f"{hook:<20} {figures['calls']:>5} {figures['mean_s']:>9.4f} {figures['max_s']:>9.4f}")
    print(
        f"callback_s_per_child: {summary['callback_s_per_child']:.4f} (Tune loop {fit_s:.1f} s, "
        f"tracker.finish {finish_s:.1f} s, {runs} offline runs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
