"""Weight sharing (ENAS) against stand-alone children, on this machine, side by side in one run.

Three figures, the CIFAR-10 files and the search's proxy (N=1, C=8 by default, SGD at batch 32,
lr 0.1; children train one epoch on ``--train-size`` images and are rewarded on ``--val-size`` held out):

1. **Cost**: seconds to score one architecture with shared weights (ENAS's reward: one
   ``--reward-batch``-image validation minibatch) against seconds to train one stand-alone proxy child.
2. **Ranking**: Kendall tau between the shared-weight scores (whole validation split) of ``--cells``
   random cells and their stand-alone proxy accuracies, the supernet trained by RSWS (uniform paths)
   with seed 0, for each supernet budget of ``--ranking-epochs``. Published weight-sharing searches
   are near 0 (Yu et al. 2020, "Evaluating the search phase of NAS"); the goal is >= 0.3. Beside it,
   the ceiling the ground truth allows: the tau between two stand-alone trainings of the same cells
   (child seeds 0 and 1), since no score can rank a noisy proxy better than the proxy ranks itself.
3. **Search quality**, Yang et al. 2020's protocol ("NAS evaluation is frustratingly hard"): mean
   stand-alone accuracy of the top ``--top`` verified cells of ``rl`` (ENAS) and ``random`` (RSWS),
   per seed, against the mean and std of the ``--cells`` random cells.

Each supernet stage runs `nas.search.weight_sharing.train_supernet` (the Ray task's body) in this
process, and each child `nas.train.trainer.train_child`: the methods are measured, not the scheduler.

    nice -n 10 python bench/weight_sharing.py            # the full comparison (hours on 2 cores)
    python bench/weight_sharing.py --quick --json         # a tiny run of every step (minutes)
    python bench/weight_sharing.py --ranking-only --ranking-epochs 10,50   # figure 2 against budget
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def log(line: str) -> None:
    """Progress on stderr (stdout holds the figures): a run of hours shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", help="CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/data/cifar10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: every step runs, no figure means much"
    )
    parser.add_argument("--N", type=int, default=1)
    parser.add_argument("--C", type=int, default=8, help="the search's proxy: N=1, C=8")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=2048)
    parser.add_argument("--val-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=10, help="supernet epochs per search")
    parser.add_argument("--controller-steps", type=int, default=30)
    parser.add_argument("--archs-per-step", type=int, default=10)
    parser.add_argument("--reward-batch", type=int, default=160)
    parser.add_argument("--candidates", type=int, default=100, help="scored on the whole validation split")
    parser.add_argument(
        "--cells", type=int, default=20, help="random cells trained alone (ranking, baseline)"
    )
    parser.add_argument(
        "--child-epochs", type=int, default=1, help="epochs of a stand-alone child (the search's default: 1)"
    )
    parser.add_argument("--top", type=int, default=5, help="verified cells per search")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--ranking-epochs",
        type=lambda text: [int(e) for e in text.split(",")],
        help="supernet budgets whose ranking is measured, comma-separated (default: --epochs)",
    )
    parser.add_argument(
        "--ranking-only",
        action="store_true",
        help="only figure 2: an RSWS supernet per --ranking-epochs budget, no searches verified",
    )
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="only figure 1: score --cells cells with an untrained supernet (same cost) and train 2 alone",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.quick:
        args.blocks, args.train_size, args.val_size, args.epochs = 2, 256, 160, 1
        args.controller_steps, args.archs_per_step, args.candidates = 2, 2, 6
        args.cells, args.top, args.seeds = 4, 2, 1
    args.ranking_epochs = args.ranking_epochs or [args.epochs]
    if args.cost_only:
        args.seeds = 0
    if args.ranking_only:
        # the uniform sampler ignores rewards: phase (b) shrinks to one reward, the budget is phase (a)
        args.seeds, args.controller_steps, args.archs_per_step, args.candidates, args.top = 0, 1, 1, 1, 0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    import numpy as np
    import torch
    import torch.nn.functional as F

    from nas.model.network import NetworkConfig
    from nas.model.supernet import SuperNetwork
    from nas.results.report import kendall_tau
    from nas.search.settings import SearchSettings
    from nas.search.weight_sharing import Paths, top_candidates, train_supernet
    from nas.space.genotype import Genotype
    from nas.train.data import load_cifar10, normalize
    from nas.train.trainer import TrainConfig, train_child
    from nas.train.weight_sharing import SharedTrainingConfig, SharedWeightTraining
    from search_spaces import get_space

    data_dir = args.data_dir or str(REPO_ROOT.parent / "shared" / "data" / "cifar10")
    space = get_space("nasnet", num_blocks=args.blocks)
    base = SearchSettings(
        N=args.N, C=args.C, blocks=args.blocks, epochs=args.epochs, data_dir=data_dir, train_size=args.train_size,
        val_size=args.val_size, weight_sharing=True, ws_candidates=args.candidates,
        ws_controller_steps=args.controller_steps, ws_archs_per_step=args.archs_per_step,
        ws_reward_batch=args.reward_batch, verify_top=args.top, wandb="disabled",
    )  # fmt: skip
    base.validate()
    data = load_cifar10(data_dir, train_size=args.train_size, val_size=args.val_size, split_seed=0)
    child_cfg = TrainConfig(
        epochs=args.child_epochs, batch_size=base.batch_size, lr=base.lr, seed=0, device="cpu"
    )
    network = NetworkConfig(N=args.N, C=args.C)
    cache: dict[tuple[str, int], float] = {}
    child_s: list[float] = []

    def stand_alone(genotype: Genotype, seed: int = 0) -> float:
        """The cell trained alone on the split of seed 0 (every verified and random cell alike), its
        weights and batches drawn with ``seed``."""
        key = (genotype.to_json(indent=None), seed)
        if key not in cache:
            result = train_child(genotype, network, replace(child_cfg, seed=seed), data)
            child_s.append(result.wall_s)
            cache[key] = result.val_accuracy or 0.0
            log(f"child {len(child_s)} (seed {seed}): {cache[key]:.4f} in {result.wall_s:.1f} s")
        return cache[key]

    def supernet_stage(searcher: str, seed: int, epochs: int, run_dir: Path) -> None:
        settings = replace(base, searcher=searcher, seed=seed, epochs=epochs)
        outcome = train_supernet(settings.to_dict(), str(run_dir))
        stage_s.append(outcome["supernet_wall_s"])
        log(f"{searcher} seed {seed}, {epochs} epochs: supernet stage {outcome['supernet_wall_s']:.0f} s")

    def trained(run_dir: Path | None, epochs: int, workers: int = 1) -> SharedWeightTraining:
        """The shared weights of a stage (untrained when ``run_dir`` is None), ready to score."""
        torch.manual_seed(0)
        supernet = SuperNetwork(network, num_blocks=args.blocks, ops=space.ops)
        cfg = SharedTrainingConfig(
            epochs=epochs, batch_size=base.batch_size, reward_batch=args.reward_batch, score_workers=workers
        )
        training = SharedWeightTraining(supernet, data, cfg, torch.device("cpu"))
        if run_dir is not None:
            training.load_state_dict(torch.load(Paths(run_dir).checkpoint, weights_only=True)["training"])
        return training

    def shared_loss_score(training: SharedWeightTraining, genotype: Genotype) -> float:
        """Minus the validation cross-entropy under the shared weights: a smoother score than the
        accuracy of a supernet that is right on few images (compared, not used by the search)."""
        val, child = training.val, training.supernet.child(genotype)
        total = 0.0
        with torch.inference_mode():
            for start in range(0, len(val), 256):
                x = normalize(val.images[start : start + 256], channels_last=training.channels_last)
                logits = child(x).logits
                total += float(F.cross_entropy(logits, val.labels[start : start + 256], reduction="sum"))
        return -total / len(val)

    started = time.perf_counter()
    searches: dict[str, list[dict[str, Any]]] = {"rl": [], "random": []}
    stage_s: list[float] = []
    rng = np.random.default_rng(12345)
    cells = [
        space.decode([int(rng.integers(len(d.choices))) for d in space.decisions]) for _ in range(args.cells)
    ]
    score_s: list[float] = []
    ranking: dict[int, float] = {}
    ranking_by_loss: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for searcher in ("random", "rl"):
                run_dir = Path(tmp) / f"{searcher}-s{seed}"
                supernet_stage(searcher, seed, args.epochs, run_dir)
                # Verified on the baseline's split (seed 0), like with like: only the search's seed varies
                verified = [stand_alone(g) for g in top_candidates(run_dir, space, args.top)]
                searches[searcher].append(
                    {"seed": seed, "verified": verified, "mean": statistics.fmean(verified)}
                )
        # Cost: ENAS's reward (one minibatch) of each random cell; an untrained supernet costs the same.
        training = trained(None, args.epochs)
        for genotype in cells:
            t0 = time.perf_counter()
            training.reward(genotype)
            score_s.append(time.perf_counter() - t0)
        # The same rewards side by side, as the search's stage scores them: one scoring thread per CPU
        # thread torch has here, each on one intra-op thread (`SharedWeightTraining.map`).
        threads = torch.get_num_threads()
        training = trained(None, args.epochs, workers=threads)
        splits = [training.reward_split() for _ in cells]
        t0 = time.perf_counter()
        list(training.map(training.score, cells, splits))
        side_by_side_s = (time.perf_counter() - t0) / len(cells)
        # Ranking: the RSWS supernet of seed 0 at each budget scores the random cells, trained alone too.
        for epochs in [] if args.cost_only else args.ranking_epochs:
            run_dir = Path(tmp) / f"random-s0-e{epochs}"
            if args.seeds and epochs == args.epochs:
                run_dir = Path(tmp) / "random-s0"  # the search's own stage above
            else:
                supernet_stage("random", 0, epochs, run_dir)
            training = trained(run_dir, epochs)
            shared = [training.score(g) for g in cells]
            by_loss = [shared_loss_score(training, g) for g in cells]
            alone = [stand_alone(g) for g in cells]
            ranking[epochs] = kendall_tau(shared, alone)
            ranking_by_loss[epochs] = kendall_tau(by_loss, alone)
            log(
                f"{epochs} supernet epochs: Kendall tau {ranking[epochs]:.3f} ({ranking_by_loss[epochs]:.3f} by loss)"
            )
    if args.cost_only:
        for genotype in cells[:2]:
            stand_alone(genotype)
    figures: dict[str, Any] = {
        "score_s": statistics.fmean(score_s),
        "score_side_by_side_s": side_by_side_s,
        "score_threads": threads,
        "child_s": statistics.fmean(child_s),
        "speedup": statistics.fmean(child_s) / statistics.fmean(score_s),
    }
    if not args.cost_only:
        alone = [stand_alone(g) for g in cells]
        figures |= {
            "supernet_stage_s": statistics.fmean(stage_s),
            "kendall_tau": ranking[args.ranking_epochs[-1]],
            "kendall_tau_by_epochs": ranking,
            "kendall_tau_by_epochs_loss_score": ranking_by_loss,
            "standalone_seed_tau": kendall_tau(alone, [stand_alone(g, seed=1) for g in cells]),
            "cells": args.cells,
            "random_cells_mean": statistics.fmean(alone),
            "random_cells_std": statistics.pstdev(alone),
        }
    if args.seeds:
        figures |= {
            "rl_top_mean": statistics.fmean(s["mean"] for s in searches["rl"]),
            "random_top_mean": statistics.fmean(s["mean"] for s in searches["random"]),
            "searches": searches,
        }
    figures["wall_s"] = time.perf_counter() - started
    if args.json:
        print(json.dumps({"settings": vars(args) | {"data_dir": data_dir}, **figures}))
        return 0
    print_table(args, figures)
    return 0


def print_table(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    print(f"N={args.N} C={args.C} B={args.blocks}, {args.train_size} train / {args.val_size} val images, "
          f"{args.epochs} supernet epochs x {args.controller_steps * args.archs_per_step} archs, {args.seeds} seeds")  # fmt: skip
    print(f"{'':34}{'seconds':>10}")
    print(
        f"{'score one cell, shared weights':34}{figures['score_s']:>10.3f}  ({args.reward_batch} val images, "
        f"one cell at a time on {figures['score_threads']} torch threads)"
    )
    print(
        f"{'score one cell, side by side':34}{figures['score_side_by_side_s']:>10.3f}  "
        f"({figures['score_threads']} scoring threads of 1 torch thread, as the search's stage scores)"
    )
    print(
        f"{'train one stand-alone proxy child':34}{figures['child_s']:>10.1f}  ({args.child_epochs} epoch(s))"
    )
    if "supernet_stage_s" in figures:
        print(f"{'one supernet stage':34}{figures['supernet_stage_s']:>10.1f}")
        print(f"Kendall tau, shared-weight score vs stand-alone accuracy over {args.cells} random cells:")
        for epochs, tau in figures["kendall_tau_by_epochs"].items():
            by_loss = figures["kendall_tau_by_epochs_loss_score"][epochs]
            print(f"  supernet trained {epochs} epochs: {tau:.3f} (scored by validation loss: {by_loss:.3f})")
        print(f"  ceiling, stand-alone child seed 0 vs seed 1: {figures['standalone_seed_tau']:.3f}")
    if "searches" in figures:
        print("search quality (mean stand-alone val accuracy):")
        print(
            f"  {args.cells} random cells: {figures['random_cells_mean']:.4f} +- {figures['random_cells_std']:.4f}"
        )
        for name in ("rl", "random"):
            per_seed = " / ".join(f"{s['mean']:.4f}" for s in figures["searches"][name])
            print(f"  top {args.top} of {name:6} (seeds {per_seed}): {figures[f'{name}_top_mean']:.4f}")
    if args.ranking_only:
        print(f"kendall_tau: {figures['kendall_tau']:.3f} (ceiling {figures['standalone_seed_tau']:.3f})")
    else:
        print(f"score_vs_child_speedup: {figures['speedup']:.0f}x")


if __name__ == "__main__":
    raise SystemExit(main())
