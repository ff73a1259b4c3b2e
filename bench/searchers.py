"""Every registered searcher on one objective, for the same number of children, over several seeds.

Reports the mean best-so-far reward against the number of children at a few checkpoints, with
random search as the baseline: the protocol of Real et al. 2019 (AmoebaNet, Fig. 3 -- RL vs evolution
vs random at equal budget) and Yang et al. 2020 ("NAS evaluation is frustratingly hard": compare with
random search under the same budget and seeds). Each searcher uses its defaults unless a flag says
otherwise, so the table shows what a user gets out of the box.

Objective ``synthetic`` (the only one so far): the fraction of decisions that equal a hidden random
target architecture, drawn per seed from a stream independent of the searchers' own seeds. It is
additive over decisions, which suits one-decision mutations and factorised models, and costs nothing
to evaluate, so it measures the search algorithms alone. A CIFAR objective waits for `nas.trainer`.

    python bench/searchers.py --children 200 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas.searcher import Proposal, SearchSpace, TrialResult

CHECKPOINTS = (10, 25, 50, 100, 200, 500, 1000, 2000, 5000)
TARGET_STREAM = 0x5EA5C4  # mixed into the target's seed so it never shares a stream with a searcher


def synthetic_objective(space: SearchSpace, seed: int) -> Callable[[Proposal], TrialResult]:
    """Reward = fraction of decisions equal to a hidden target drawn from ``seed``."""
    import numpy as np

    from nas.searcher import TrialResult

    rng = np.random.default_rng(np.random.SeedSequence([seed, TARGET_STREAM]))
    target = rng.integers([len(d.choices) for d in space.decisions])
    return lambda p: TrialResult("completed", float(np.mean(np.asarray(p.choices) == target)))


def best_so_far(
    name: str, space: SearchSpace, seed: int, children: int, options: dict[str, Any]
) -> list[float]:
    """The best reward after each child, asking and telling one child at a time."""
    from nas.searcher import create_searcher

    objective = synthetic_objective(space, seed)
    searcher = create_searcher(name, space, seed=seed, **options)
    curve: list[float] = []
    for _ in range(children):
        proposal = searcher.ask()
        result = objective(proposal)
        searcher.tell(proposal.trial_id, result)
        curve.append(max(result.reward or 0.0, curve[-1] if curve else 0.0))
    searcher.close()
    return curve


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objective", choices=["synthetic"], default="synthetic")
    parser.add_argument("--children", type=int, default=200, help="children per searcher and seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--blocks", type=int, default=5, help="blocks per cell (B) of the NASNet space")
    parser.add_argument("--rl-lr", type=float, default=None, help="controller lr (default: 3.5e-4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.children < 1 or args.seeds < 1:
        parser.error("--children and --seeds must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout
    from nas.searcher import SEARCHERS
    from search_spaces.nasnet import NasnetSpace

    space = NasnetSpace(num_blocks=args.blocks)
    options: dict[str, dict[str, Any]] = {name: {} for name in SEARCHERS}
    if args.rl_lr is not None:
        options["rl"]["lr"] = args.rl_lr
    checkpoints = [c for c in CHECKPOINTS if c < args.children] + [args.children]
    mean_best = {}
    for name in SEARCHERS:
        curves = [best_so_far(name, space, s, args.children, options[name]) for s in range(args.seeds)]
        mean_best[name] = {c: statistics.fmean(curve[c - 1] for curve in curves) for c in checkpoints}

    final = args.children
    ratios = {name: mean_best[name][final] / mean_best["random"][final] for name in SEARCHERS}
    summary_key = f"rl_best_over_random_at_{final}"
    if args.json:
        print(
            json.dumps(
                {
                    "objective": args.objective,
                    "blocks": args.blocks,
                    "children": args.children,
                    "seeds": args.seeds,
                    "options": options,
                    "mean_best_so_far": {
                        n: {str(c): v for c, v in row.items()} for n, row in mean_best.items()
                    },
                    "over_random": ratios,
                    summary_key: ratios["rl"],
                }
            )
        )
        return 0
    names = list(SEARCHERS)
    print(
        f"mean best-so-far reward over {args.seeds} seed(s); objective {args.objective}, "
        f"NASNet space with B={args.blocks} ({len(space.decisions)} decisions)"
    )
    print(f"{'children':>9}" + "".join(f"{n:>11}" for n in names))
    for c in checkpoints:
        print(f"{c:>9}" + "".join(f"{mean_best[n][c]:>11.3f}" for n in names))
    print(f"{'/ random':>9}" + "".join(f"{ratios[n]:>10.2f}x" for n in names))
    print(f"{summary_key}: {ratios['rl']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
