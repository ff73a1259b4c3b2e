"""Every registered searcher on one objective, for the same number of children, over several seeds.

Reports the mean best-so-far reward against the number of children at a few checkpoints, with
random search as the baseline: the protocol of Real et al. 2019 (AmoebaNet, Fig. 3 -- RL vs evolution
vs random at equal budget) and Yang et al. 2020 ("NAS evaluation is frustratingly hard": compare with
random search under the same budget and seeds). Each searcher uses its defaults unless a flag says
otherwise, so the table shows what a user gets out of the box.

Objectives:
- ``synthetic``: the fraction of decisions that equal a hidden random target architecture, drawn per
  seed from a stream independent of the searchers' own seeds. It is additive over decisions, which
  suits one-decision mutations and factorised models, and costs nothing to evaluate, so it measures
  the search algorithms alone, over hundreds of children.
- ``cifar``: the real reward. Each child is trained by `nas.train.trainer.train_child` in this process
  (no Ray: the searchers are compared, not the scheduler) on the CIFAR-10 files, tiny by default
  (N=1, C=8, one epoch on 2,048 images at batch 32 and lr 0.1 as in `nas search`, validation on 512
  held out of the training batches), and
  rewarded with its validation accuracy; a failed child is told as failed. The same cell trained
  with the same seed gives the same accuracy (CPU determinism), so repeats are looked up, not retrained.

    python bench/searchers.py --children 200 --seeds 3
    python bench/searchers.py --objective cifar --children 24 --seeds 2 --blocks 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas.results.trial import TrialResult
    from nas.searcher.base import Proposal
    from nas.space.protocol import SearchSpace
    from nas.train.data import CifarData

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = (10, 25, 50, 100, 200, 500, 1000, 2000, 5000)
TARGET_STREAM = 0x5EA5C4  # mixed into the target's seed so it never shares a stream with a searcher


def synthetic_objective(space: SearchSpace, seed: int) -> Callable[[Proposal], TrialResult]:
    """Reward = fraction of decisions equal to a hidden target drawn from ``seed``."""
    import numpy as np

    from nas.results.trial import TrialResult

    rng = np.random.default_rng(np.random.SeedSequence([seed, TARGET_STREAM]))
    target = rng.integers([len(d.choices) for d in space.decisions])
    return lambda p: TrialResult("completed", float(np.mean(np.asarray(p.choices) == target)))


Objective = Callable[["SearchSpace", int], Callable[["Proposal"], "TrialResult"]]
"""(space, seed) -> the reward function of one seed's run."""


def cifar_objective(data: CifarData, *, C: int, train_size: int) -> Objective:
    """Reward = validation accuracy of the proposed cell trained for one epoch (memoized per cell)."""
    from nas.model.network import NetworkConfig
    from nas.results.trial import outcome
    from nas.train.trainer import TrainConfig, train_child

    network = NetworkConfig(N=1, C=C)

    def for_seed(space: SearchSpace, seed: int) -> Callable[[Proposal], TrialResult]:
        # The search's proxy (nas.search.settings.SearchSettings): batch 32, lr 0.1, one epoch.
        train = TrainConfig(epochs=1, batch_size=32, lr=0.1, seed=seed, device="cpu", train_size=train_size)
        seen: dict[tuple[int, ...], TrialResult] = {}

        def objective(proposal: Proposal) -> TrialResult:
            if proposal.choices not in seen:
                result = train_child(proposal.genotype, network, train, data)
                seen[proposal.choices] = outcome(
                    result.status, result.val_accuracy, result.params, result.mult_adds, result.error
                )
            return seen[proposal.choices]

        return objective

    return for_seed


def best_so_far(
    name: str,
    space: SearchSpace,
    seed: int,
    children: int,
    options: dict[str, Any],
    make_objective: Objective,
) -> list[float]:
    """The best reward after each child, asking and telling one child at a time."""
    from nas.search.searcher import create_searcher

    objective = make_objective(space, seed)
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
    parser.add_argument("--objective", choices=["synthetic", "cifar"], default="synthetic")
    parser.add_argument(
        "--data-dir", help="cifar: CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/...)"
    )
    parser.add_argument("--C", type=int, default=8, help="cifar: channels per block of a child")
    parser.add_argument("--train-size", type=int, default=2048, help="cifar: training images per child")
    parser.add_argument("--val-size", type=int, default=512, help="cifar: validation images")
    parser.add_argument("--children", type=int, default=200, help="children per searcher and seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--blocks", type=int, default=5, help="blocks per cell (B) of the NASNet space")
    parser.add_argument(
        "--rl-lr", type=float, default=None, help="controller lr (default: the searcher's, 0.01)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.children < 1 or args.seeds < 1:
        parser.error("--children and --seeds must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout
    from nas.search.searcher import searcher_names
    from search_spaces.nasnet import NasnetSpace

    space = NasnetSpace(num_blocks=args.blocks)
    make_objective: Objective = synthetic_objective
    if args.objective == "cifar":
        from nas.train.data import ENV_VAR, load_cifar10

        data_dir = (
            args.data_dir or os.environ.get(ENV_VAR) or str(REPO_ROOT.parent / "shared" / "data" / "cifar10")
        )
        data = load_cifar10(data_dir, val_size=args.val_size)
        make_objective = cifar_objective(data, C=args.C, train_size=args.train_size)
    options: dict[str, dict[str, Any]] = {name: {} for name in searcher_names()}
    if args.rl_lr is not None:
        options["rl"]["lr"] = args.rl_lr
    checkpoints = [c for c in CHECKPOINTS if c < args.children] + [args.children]
    mean_best = {}
    for name in searcher_names():
        curves = [
            best_so_far(name, space, s, args.children, options[name], make_objective)
            for s in range(args.seeds)
        ]
        mean_best[name] = {c: statistics.fmean(curve[c - 1] for curve in curves) for c in checkpoints}

    final = args.children
    ratios = {name: mean_best[name][final] / mean_best["random"][final] for name in searcher_names()}
    summary_key = f"rl_best_over_random_at_{final}"
    if args.json:
        print(
            json.dumps(
                {
                    "objective": args.objective,
                    "cifar_child": (
                        {
                            "N": 1,
                            "C": args.C,
                            "train_size": args.train_size,
                            "val_size": args.val_size,
                            "epochs": 1,
                        }
                        if args.objective == "cifar"
                        else None
                    ),
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
    names = list(searcher_names())
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
