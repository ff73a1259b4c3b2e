"""The cell a search *reports*, on NAS-Bench-201's ground truth: trained children, a selection stage.

Yang et al. ("NAS evaluation is frustratingly hard", ICLR 2020) judge a NAS method by the final
accuracy of the one cell it reports, against random search at the same budget, over seeds. Here each
searcher runs ``nas search`` as a user types it, in the NAS-Bench-201 space with every child
**trained** on this machine's CIFAR-10 (``--train``; the table only looked up beside it, never told
to the searcher) and NASNet's selection stage at the end (``--select-top K``: the K best cells by the
search's score retrained longer; ``best_genotype.json`` is the best of them). The reported cell's
200-epoch CIFAR-10 accuracy is then read from the table, with two references from the same run: the
cell the search stage alone would have reported (best score) and the best cell it trained (an oracle
a search cannot know).

    python bench/select_protocol.py                       # rl, evolution, random x 3 seeds, 48 + 4
    python bench/select_protocol.py --searchers random --seeds 1 --trials 8 --select-top 2 --json
    python bench/select_protocol.py --search-flags "--N 1 --C 4 --train-size 256"   # smaller children
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from nas.results.run_folder import read_jsonl  # noqa: E402
from nas.space.load import load_genotype  # noqa: E402
from nas.space.nb201_table import ENV_VAR, load_table  # noqa: E402

NAS = str(Path(sys.executable).with_name("nas"))
TABLE = Path(
    os.environ.get(ENV_VAR) or REPO_ROOT.parent / "shared" / "data" / "nats-bench" / "nats_bench_tss.csv"
)
DATA = REPO_ROOT.parent / "shared" / "data" / "cifar10"


def run_one(args: argparse.Namespace, searcher: str, seed: int, results: Path) -> dict[str, Any]:
    """One ``nas search`` to its end; the table accuracy of what it reports, and of its references."""
    name = f"{searcher}-s{seed}"
    command = [NAS, "search", "--space", "nas-bench-201", "--benchmark", str(args.benchmark), "--train",
               "--data-dir", str(args.data_dir), "--searcher", searcher, "--seed", str(seed),
               "--trials", str(args.trials), "--wandb", "disabled", "--quiet",
               "--results-dir", str(results), "--name", name, *shlex.split(args.search_flags)]  # fmt: skip
    if args.select_top:  # 0: no selection stage, the search's best score is reported
        command += ["--select-top", str(args.select_top), "--select-epochs", str(args.select_epochs)]
    started = time.perf_counter()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    table = load_table(args.benchmark)
    rows = read_jsonl(results / name / "trials.jsonl")
    search = [r for r in rows if r.get("stage", "search") == "search" and r["status"] == "completed"]
    reported = load_genotype(results / name / "best_genotype.json")
    by_score = max(search, key=lambda r: r["score"])
    return {
        "searcher": searcher,
        "seed": seed,
        "reported": table.accuracy(reported) / 100.0,  # type: ignore[arg-type]  # the rows: fractions
        "search_only": by_score["table_accuracy"],
        "best_trained": max(r["table_accuracy"] for r in search),
        "children": len(search),
        "select_children": sum(r.get("stage") == "select" for r in rows),
        "wall_s": time.perf_counter() - started,
    }


def _mean_sd(values: Sequence[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values) * 100:.2f} +- {sd * 100:.2f}"


def table_lines(runs: Sequence[dict[str, Any]], searchers: Sequence[str]) -> list[str]:
    lines = [
        "| searcher | reported cell (after selection) | search stage alone | best cell trained | wall per run |",
        "|---|---|---|---|---|",
    ]
    for s in searchers:
        mine = [r for r in runs if r["searcher"] == s]
        cells = [_mean_sd([r[k] for r in mine]) for k in ("reported", "search_only", "best_trained")]
        wall = statistics.fmean(r["wall_s"] for r in mine)
        lines.append(f"| {s} | {' | '.join(cells)} | {wall:.0f} s |")
    return lines


def summary(runs: Sequence[dict[str, Any]], searchers: Sequence[str]) -> str:
    means = {s: statistics.fmean(r["reported"] for r in runs if r["searcher"] == s) for s in searchers}
    return "select_protocol_reported: " + ", ".join(f"{s} {m * 100:.2f}" for s, m in means.items())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searchers", default="rl,evolution,random", help="comma-separated")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=48, help="trained children per search")
    parser.add_argument("--select-top", type=int, default=4, help="0: no selection stage")
    parser.add_argument("--select-epochs", type=int, default=5)
    parser.add_argument("--benchmark", type=Path, default=TABLE, help="the NAS-Bench-201 table")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="CIFAR-10")
    parser.add_argument("--results-dir", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("--search-flags", default="", help='more `nas search` flags, e.g. "--N 1 --C 4"')
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args(argv)
    searchers = [s for s in args.searchers.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results_dir or Path(tmp)
        runs = []
        for seed in range(args.seeds):
            for searcher in searchers:
                runs.append(run_one(args, searcher, seed, results))
                if not args.json:
                    r = runs[-1]
                    print(f"{searcher} seed {seed}: reported {r['reported'] * 100:.2f}, search stage "
                          f"{r['search_only'] * 100:.2f}, best trained {r['best_trained'] * 100:.2f} "
                          f"({r['wall_s']:.0f} s)", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"runs": runs, "summary": summary(runs, searchers)}))
    else:
        print("\n".join([*table_lines(runs, searchers), summary(runs, searchers)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
