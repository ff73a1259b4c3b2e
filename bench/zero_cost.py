"""Zero-cost proxies against ground truth: Spearman rho and Kendall tau per proxy (issue 25).

NAS-Bench-201 side: ``--cells`` random cells (seeded), each scored by every proxy
(`nas.proxies.score.Scorer`), against the table's 200-epoch CIFAR-10 accuracy; beside the published
rho (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Table/Fig. on NB201
CIFAR-10: synflow 0.74, jacob_cov 0.73, grad_norm 0.58, snip 0.58; NASWOT 0.78, Mellor et al.,
ICML 2021) and beside ``params``, the bar to beat. A rank-sum combination (synflow+naswot) too.
NASNet side: the same proxies against our trained-proxy accuracies, the completed rows of the
committed runs' ``results/*/trials.jsonl``. Each line prints n and the 95% band of tau under
independence, +-1.96 sqrt(2(2n+5) / (9n(n-1))); one summary line ``zero_cost: ...``; ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from nas.proxies.score import DEFAULT_PROXIES, Scorer, ScoreSettings, random_genotypes  # noqa: E402
from nas.space.nb201_table import ENV_VAR as TABLE_ENV  # noqa: E402
from nas.train.data import ENV_VAR as DATA_ENV  # noqa: E402

TABLE = REPO_ROOT.parent / "shared" / "data" / "nats-bench" / "nats_bench_tss.csv"
PUBLISHED_NB201_RHO = {"synflow": 0.74, "jacov": 0.73, "grad_norm": 0.58, "snip": 0.58, "naswot": 0.78}
COMBINATION = ("synflow", "naswot")


def ranks(values: Sequence[float]) -> np.ndarray:
    """Average ranks (ties share the mean rank), as Spearman's rho takes them."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    out = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        out[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either list counted as neither concordant nor discordant)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    s = float((dx * dy)[upper].sum())
    nx, ny = float(np.abs(dx[upper]).sum()), float(np.abs(dy[upper]).sum())
    return s / math.sqrt(nx * ny) if nx > 0 and ny > 0 else 0.0


def tau_band(n: int) -> float:
    return 1.96 * math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else float("inf")


def correlate(scores: list[dict[str, float]], truth: list[float], proxies: Sequence[str]) -> dict[str, Any]:
    """rho and tau of each proxy (and the rank-sum combination) against ``truth``."""
    columns = {p: [s[p] for s in scores] for p in proxies}
    if all(p in columns for p in COMBINATION):
        columns["+".join(COMBINATION)] = list(sum(ranks(columns[p]) for p in COMBINATION))
    return {
        name: {"rho": spearman(values, truth), "tau": kendall(values, truth)}
        for name, values in columns.items()
    }


def nb201(args: argparse.Namespace) -> dict[str, Any]:
    from nas.space.nb201_table import load_table

    table = load_table(args.table)
    cells = random_genotypes("nas-bench-201", args.cells, args.seed)
    scorer = Scorer(
        ScoreSettings(
            "nas-bench-201", tuple(args.proxy), args.N, args.C, args.batch_size, args.seed, args.data_dir
        )
    )
    start = time.perf_counter()
    scores = scorer.score_all(cells)
    truth = [table.accuracy(c) for c in cells]
    return {
        "n": len(cells),
        "N": args.N,
        "C": args.C,
        "seconds_per_cell": (time.perf_counter() - start) / len(cells),
        "proxy_seconds_per_cell": {p: s / len(cells) for p, s in scorer.seconds.items()},
        "tau_band": tau_band(len(cells)),
        "published_rho": PUBLISHED_NB201_RHO,
        "results": correlate(scores, truth, args.proxy),
    }


def nasnet(args: argparse.Namespace) -> dict[str, Any]:
    from nas.space.genotype import Genotype
    from nas.space.load import genotype_from_data

    cells: list[Genotype] = []
    truth: list[float] = []
    for path in sorted((REPO_ROOT / "results").glob("*/trials.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            cell = genotype_from_data(row["genotype"])
            # results/ also holds NAS-Bench-201 runs: their figures are table lookups, not proxies
            if (
                isinstance(cell, Genotype)
                and row.get("status") == "completed"
                and row.get("val_accuracy") is not None
            ):
                cells.append(cell)
                truth.append(float(row["val_accuracy"]))
    if args.quick:
        cells, truth = cells[: args.cells], truth[: args.cells]
    scorer = Scorer(
        ScoreSettings("nasnet", tuple(args.proxy), 1, args.C, args.batch_size, args.seed, args.data_dir)
    )
    scores = scorer.score_all(cells)
    return {
        "n": len(cells),
        "tau_band": tau_band(len(cells)),
        "results": correlate(scores, truth, args.proxy),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=1000, help="random NB201 cells (default 1000)")
    parser.add_argument("--quick", action="store_true", help="10 cells, tiny networks: the test's run")
    parser.add_argument("--proxy", default=",".join(DEFAULT_PROXIES))
    parser.add_argument("--N", type=int, default=5, help="NB201 cells per stage (paper: 5)")
    parser.add_argument("--C", type=int, default=16, help="first-stage channels (paper: 16)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_ENV) or str(REPO_ROOT.parent / "shared" / "data" / "cifar10"),
        help="CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/data/cifar10)",
    )
    parser.add_argument("--table", default=os.environ.get(TABLE_ENV) or str(TABLE))
    parser.add_argument("--space", choices=("both", "nas-bench-201", "nasnet"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.proxy = [p for p in args.proxy.split(",") if p]
    if args.quick:
        args.cells, args.N, args.C, args.batch_size = min(args.cells, 10), 1, 4, 8
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from nas.errors import NasError

    args = parse_args(argv)
    out: dict[str, Any] = {}
    try:
        if args.space in ("both", "nas-bench-201"):
            out["nas-bench-201"] = nb201(args)
        if args.space in ("both", "nasnet"):
            out["nasnet"] = nasnet(args)
    except NasError as err:  # a missing data folder or table: one line, exit 2
        print(f"zero_cost.py: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    parts = []
    for space, part in out.items():
        print(f"{space}: n={part['n']}, tau 95% band under independence +-{part['tau_band']:.3f}")
        for name, r in part["results"].items():
            published = part.get("published_rho", {}).get(name)
            extra = f" (published rho {published})" if published is not None else ""
            print(f"  {name:16s} rho {r['rho']:+.3f} tau {r['tau']:+.3f}{extra}")
        best = max(part["results"], key=lambda k: part["results"][k]["rho"])
        parts.append(f"{space} n={part['n']} best {best} rho {part['results'][best]['rho']:.2f}")
    print("zero_cost: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
