"""The search driver at NASNet scale: what each child costs the driver, at child 1 and at child 20,000.

NASNet trained 20,000 children, 450 at a time (Zoph et al. 2018, Sec. 4): with two-minute children
the driver is handed a finished child every ~0.27 s, so its own work per child must not grow with the
run. Two measurements, side by side:

1. Our bookkeeping, no Ray: instant children (a reward computed from the genotype, 5% failures)
   through `TuneSearcherAdapter.suggest`/`on_trial_complete` and the run folder, ``--concurrency``
   outstanding at once, for each searcher. Per child: the total, the searcher's own ``ask``/``tell``,
   and the rest (journal, leaderboard append, stats, snapshots: "books"), over children 1-1,000 and
   the last 1,000. ``tpe`` runs until ``--tpe-seconds`` (Optuna's TPE refits on every finished trial,
   so it is the one that grows). Then the end of the run (``finish``: snapshot + ``trials.csv``), a
   resume from the folder (snapshot + journal + leaderboard), and the driver's RSS.
2. Ray Tune's own overhead: ``--ray-children`` trivial children (they report the same instant result)
   through a real local Ray and our adapter, Ray's defaults against the settings `nas.search.runner`
   uses (`TUNE_ENV`), ms per child early vs late.

    python bench/driver_scale.py            # 20,000 children per searcher, 2,000 through Ray (~25 min)
    python bench/driver_scale.py --quick    # 3,000 children, 300 through Ray
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from nas.results.run_folder import RunFolder  # noqa: E402
from nas.search.searcher import create_searcher  # noqa: E402
from nas.search.tune_adapter import TuneSearcherAdapter  # noqa: E402
from nas.tracking.base import NullTracker  # noqa: E402
from search_spaces import get_space  # noqa: E402

SEARCHERS = ("rl", "evolution", "random", "tpe")
FINISHED = "FINISHED"  # ray.tune.search.Searcher.FINISHED


def instant_result(config: Mapping[str, Any]) -> dict[str, Any]:
    """A finished child's last report without training: a reward that is a function of the genotype."""
    code = zlib.crc32(str(config["genotype"]).encode())
    if code % 20 == 0:
        return {
            "status": "failed",
            "error": "synthetic failure",
            "val_accuracy": 0.0,
            "score": 0.0,  # what Tune compares (`nas.search.tune_adapter.METRIC`)
            "val_accuracy_history": [],
        }
    accuracy = 0.1 + 0.8 * (code % 10007) / 10007
    return {
        "status": "completed",
        "val_accuracy": accuracy,
        "best_val_accuracy": accuracy,
        "score": accuracy,  # scored by its accuracy, as the adapter's default
        "best_score": accuracy,
        "val_accuracy_history": [accuracy],
        "params": 100_000 + code % 50_000,
        "mult_adds": 10_000_000 + code % 5_000_000,
        "wall_s": 0.0,
        "images_per_s": 0.0,
    }


def make_adapter(
    run_dir: Path,
    searcher: str,
    *,
    budget: int,
    blocks: int = 5,
    seed: int = 0,
    snapshot_every: int = 100,
    listeners: Sequence[Callable[[Any], None]] = (),
    tell_lag: int | None = None,
) -> TuneSearcherAdapter:
    """A fresh searcher restored from ``run_dir`` (if it holds a run) behind the adapter, as `nas search` builds it."""
    run = RunFolder(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    inner = create_searcher(searcher, get_space("nasnet", num_blocks=blocks), seed=seed, run_dir=run_dir)
    return TuneSearcherAdapter(
        inner,
        searcher_name=searcher,
        run=run,
        budget=budget,
        tracker=NullTracker(),
        listeners=listeners,
        snapshot_every=snapshot_every,
        tell_lag=tell_lag,
    )


def drive(
    adapter: TuneSearcherAdapter,
    *,
    concurrency: int,
    on_child: Callable[[int], None] = lambda done: None,
    stop: Callable[[], bool] = lambda: False,
    finish_order: random.Random | None = None,
) -> None:
    """Keep ``concurrency`` children outstanding, finish the oldest first (or, given ``finish_order``,
    one drawn from it), until the budget (or ``stop``)."""
    running: deque[tuple[str, dict[str, Any]]] = deque()
    serial = itertools.count()
    while True:
        while len(running) < concurrency and not stop():
            tune_id = f"tune-{next(serial)}"
            config = adapter.suggest(tune_id)
            if config is None or config == FINISHED:
                break
            running.append((tune_id, config))
        if not running:
            return
        running.rotate(-finish_order.randrange(len(running)) if finish_order is not None else 0)
        tune_id, config = running.popleft()
        adapter.on_trial_complete(tune_id, result=instant_result(config))
        on_child(adapter.done)


class _Clock:
    """Cumulative seconds spent inside the wrapped methods of ``target``."""

    def __init__(self, target: Any, methods: Sequence[str]) -> None:
        self.seconds = 0.0
        for name in methods:
            setattr(target, name, self._timed(getattr(target, name)))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def rss_mb() -> float:
    """The driver's resident memory now (not the peak), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _window(marks: Sequence[tuple[float, float]], lo: int, hi: int) -> dict[str, float]:
    """ms per child over children lo+1..hi: total, the searcher's, and the books' (the rest)."""
    (t0, s0), (t1, s1) = marks[lo], marks[hi]
    total, searcher = (t1 - t0) / (hi - lo) * 1e3, (s1 - s0) / (hi - lo) * 1e3
    return {"total_ms": total, "searcher_ms": searcher, "books_ms": total - searcher}


def bench_searcher(
    name: str, folder: Path, *, children: int, window: int, concurrency: int, seconds: float | None
) -> dict[str, Any]:
    adapter = make_adapter(folder, name, budget=children)
    clock = _Clock(adapter.inner, ("ask", "tell"))
    marks = [(time.perf_counter(), 0.0)]
    deadline = None if seconds is None else time.monotonic() + seconds
    drive(
        adapter,
        concurrency=concurrency,
        on_child=lambda done: marks.append((time.perf_counter(), clock.seconds)),
        stop=lambda: deadline is not None and time.monotonic() > deadline,
    )
    reached = len(marks) - 1
    size = min(window, reached // 4) if seconds is not None else window
    started = time.perf_counter()
    adapter.finish()
    finish_s = time.perf_counter() - started
    adapter.inner.close()
    rss = rss_mb()
    started = time.perf_counter()
    resumed = make_adapter(folder, name, budget=children)
    resume_s = time.perf_counter() - started
    resumed.inner.close()
    early, late = _window(marks, 0, size), _window(marks, reached - size, reached)
    return {
        "children": reached,
        "window": size,
        "early": early,
        "late": late,
        "late_over_early_books": late["books_ms"] / early["books_ms"],
        "late_over_early_total": late["total_ms"] / early["total_ms"],
        "finish_s": finish_s,
        "resume_s": resume_s,
        "rss_mb": rss,
        "trials_jsonl_mb": (folder / "trials.jsonl").stat().st_size / 2**20,
        "state_mb": (folder / "searcher_state.json").stat().st_size / 2**20,
    }


@contextmanager
def _unset_env(keys: Iterable[str]) -> Iterator[None]:
    """Unset ``keys`` inside the block, and give them back their values after it."""
    saved = {key: os.environ.pop(key, None) for key in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def _trivial_trainable(config: dict[str, Any]) -> None:
    from ray import tune

    tune.report(instant_result(config))


def bench_ray(folder: Path, *, children: int, window: int, ours: bool) -> dict[str, Any]:
    """``children`` trivial children through a real Tune run and our adapter (evolution), 2 at a time,
    with Ray's defaults or (``ours``) the settings of `nas.search.runner.apply_tune_env`."""
    from ray import tune

    from nas.search.runner import TUNE_ENV, apply_tune_env

    with _unset_env(TUNE_ENV):
        if ours:
            apply_tune_env()
        marks = [(time.perf_counter(), 0.0)]
        adapter = make_adapter(
            folder,
            "evolution",
            budget=children,
            listeners=[lambda row: marks.append((time.perf_counter(), books.seconds))],
        )
        books = _Clock(adapter, ("suggest", "on_trial_complete"))
        tuner = tune.Tuner(
            tune.with_resources(_trivial_trainable, {"cpu": 1}),
            tune_config=tune.TuneConfig(
                search_alg=adapter, num_samples=children, max_concurrent_trials=2, reuse_actors=True
            ),
            run_config=tune.RunConfig(name="ray", storage_path=str((folder / "ray").resolve()), verbose=0),
        )
        started = time.perf_counter()
        tuner.fit()
        wall = time.perf_counter() - started
        adapter.finish()
    reached = len(marks) - 1
    size = min(window, reached // 2)
    early, late = _window(marks, 0, size), _window(marks, reached - size, reached)
    # Here "searcher" is our adapter's whole share (searcher + books); the rest is Ray's.
    rename = {"total_ms": "total_ms", "searcher_ms": "ours_ms", "books_ms": "ray_ms"}
    return {
        "children": reached,
        "window": size,
        "wall_s": wall,
        "early": {rename[k]: v for k, v in early.items()},
        "late": {rename[k]: v for k, v in late.items()},
        "late_over_early_total": late["total_ms"] / early["total_ms"],
        "rss_mb": rss_mb(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3,000 children, tpe 60 s, 300 through Ray")
    parser.add_argument("--children", type=int, default=None, help="children per searcher (20,000)")
    parser.add_argument("--window", type=int, default=1000, help="children per early/late window")
    parser.add_argument("--concurrency", type=int, default=450, help="children outstanding (NASNet's 450)")
    parser.add_argument("--tpe-seconds", type=float, default=None, help="time for tpe (600)")
    parser.add_argument("--ray-children", type=int, default=None, help="trivial children via Ray (2,000)")
    parser.add_argument("--searchers", default=",".join(SEARCHERS))
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray Tune part")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = parser.parse_args(argv)
    args.children = args.children or (3000 if args.quick else 20_000)
    args.tpe_seconds = args.tpe_seconds or (60.0 if args.quick else 600.0)
    args.ray_children = args.ray_children or (300 if args.quick else 2000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {
        "children": args.children,
        "concurrency": args.concurrency,
        "cpu_count": os.cpu_count(),
        "load_avg_start": os.getloadavg()[0],
        "searchers": {},
        "ray": {},
    }
    root = Path(tempfile.mkdtemp(prefix="driver_scale."))
    try:
        for name in args.searchers.split(","):
            results["searchers"][name] = bench_searcher(
                name,
                root / name,
                children=args.children,
                window=args.window,
                concurrency=args.concurrency,
                seconds=args.tpe_seconds if name == "tpe" else None,
            )
            _print_searcher(name, results["searchers"][name], file=sys.stderr if args.json else sys.stdout)
        if not args.no_ray:
            from nas.search.cluster import connect

            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance: no token prompt
            connect(None)
            for label in ("ray_defaults", "ours"):
                results["ray"][label] = bench_ray(
                    root / f"ray-{label}",
                    children=args.ray_children,
                    window=args.window // 2,
                    ours=label == "ours",
                )
                _print_ray(label, results["ray"][label], file=sys.stderr if args.json else sys.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["load_avg_end"] = os.getloadavg()[0]
    flat = [r for n, r in results["searchers"].items() if n != "tpe"]
    worst_books = max((r["late"]["books_ms"] for r in flat), default=float("nan"))
    worst_ratio = max((r["late_over_early_books"] for r in flat), default=float("nan"))
    results["worst_late_books_ms"], results["worst_late_over_early_books"] = worst_books, worst_ratio
    if args.json:
        print(json.dumps(results))
    else:
        print(f"load average {results['load_avg_start']:.2f} -> {results['load_avg_end']:.2f}")
    print(f"driver_books_ms_per_child_late: {worst_books:.2f} (late/early {worst_ratio:.2f})")
    return 0


def _print_searcher(name: str, r: Mapping[str, Any], file: TextIO) -> None:
    e, late, w, n = r["early"], r["late"], r["window"], r["children"]
    print(
        f"{name:<10} children {n:>6}  ms/child 1-{w}: books {e['books_ms']:6.2f} searcher {e['searcher_ms']:7.2f}"
        f"  | {n - w + 1}-{n}: books {late['books_ms']:6.2f} searcher {late['searcher_ms']:7.2f}"
        f"  | books late/early {r['late_over_early_books']:.2f}  finish {r['finish_s']:.2f} s"
        f"  resume {r['resume_s']:.2f} s  RSS {r['rss_mb']:.0f} MB  state {r['state_mb']:.2f} MB",
        file=file,
        flush=True,
    )


def _print_ray(label: str, r: Mapping[str, Any], file: TextIO) -> None:
    e, late, w, n = r["early"], r["late"], r["window"], r["children"]
    print(
        f"ray {label:<13} children {n:>5}  ms/child 1-{w}: total {e['total_ms']:6.1f} (ray {e['ray_ms']:6.1f},"
        f" ours {e['ours_ms']:5.2f})  | {n - w + 1}-{n}: total {late['total_ms']:6.1f} (ray {late['ray_ms']:6.1f},"
        f" ours {late['ours_ms']:5.2f})  | late/early {r['late_over_early_total']:.2f}  wall {r['wall_s']:.0f} s",
        file=file,
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
