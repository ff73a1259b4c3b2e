"""How well the search's cheap evaluation ranks cells: proxy settings against the ground truth.

A search is only as good as the score it ranks its children by. For ``--cells`` random cells this
trains each under a list of *trainings* (epochs, images per epoch, N, C, seed, common random numbers)
and reads every trained child in several ways (validation accuracy or loss on the search's 512
images or on a bigger split, and the sum of training losses), so each (training, reading) pair is
one evaluation setting. For each setting it prints:

- Kendall tau and Spearman rho against the ground truth, in the NAS-Bench-201 space the table's
  200-epoch CIFAR-10 test accuracy (Dong & Yang, ICLR 2020); NAS-Bench-201's own 12-epoch results
  reach about 0.9 there;
- seconds per child (training plus the evaluation of that reading, on this machine);
- the tau between two seeds of the same setting (the ``@1`` trainings: the same cells trained with
  seed 1), the proxy's agreement with itself, which bounds its agreement with anything else;
- n and the chance band: under independence tau is about normal with variance 2(2n+5)/(9n(n-1)),
  so |tau| below 1.96 of its standard deviations is not evidence of any ranking.

The readings: ``acc512`` and ``loss512`` are the search's own validation split (512 images held out
of the training batches, split seed 0). ``acc4054``/``loss4054`` are read on every image of the
CIFAR files here that no child trains on: the 512, the 2,525 training-batch images the 2,048 do
not use, and the 1,017 of the test batch (4,054 in all). This is a bench, not a search: using the
test batch as validation is fine here because nothing is selected on it, and it is the only way
to get near NASNet's 5,000 held-out images from this 6,102-image subset; a training on more
than the 2,048 images has no such reading. ``acctest``/``losstest`` read the 1,017 test-batch
images alone, which no training uses, so every training has them. ``sotl`` is minus the
sum of the minibatch training losses over the run (Ru et al., NeurIPS 2021, "Speedy performance
estimation for neural architecture search"), which needs no validation images at all. The bigger
split is read from the same trained weights as the 512 (a checkpoint per child), so the readings
of one training differ only in what they read.

The trainings (`TRAININGS`), each a `nas.train.trainer.TrainConfig` for `train_child`:
``today`` is the search's proxy (1 epoch of 2,048 images at batch 32, lr 0.1, N=1, C=8, common random
numbers, seed 0); ``e3``/``e9`` train 3 or 9 epochs of 672 or 224 images (63 steps, the same
training cost; EcoNAS, Zhou et al. CVPR 2020, compare such trade-offs); ``C16``, ``N2`` widen or
deepen the network; ``nocrn`` gives each child its own seed drawn from (seed, cell number) instead
of the shared one; ``x4``, ``x8``, ``x4C16`` spend more: 4 or 8 epochs of the same 2,048 images (4x
or 8x the steps), the first also at C=16; ``all1`` and ``all1b64`` train one epoch of every
training image the 512 leave (4,573 here: more images rather than more epochs, EcoNAS's advice),
at batch 32 or 64; ``lr05`` halves the learning rate, ``wd0`` drops the weight decay;
``v1536b64`` holds out 1,536 images instead of 512 and trains one epoch of the 3,549 left at batch 64
(its validation readings are ``acc1536``/``loss1536``). A name
``X@1`` is ``X`` with seed 1.

``--zero-cost`` also scores every cell by the two zero-cost proxies that rank the table best
(``synflow`` and ``naswot``, `nas.proxies.score.Scorer` at the search's child size, nothing trained;
[zero_cost.md](../docs/zero_cost.md)) and adds them as the setting ``zero-cost`` with the readings
``synflow``, ``naswot``, ``synflow+naswot`` (the sum of their ranks over the cells) and
``synflow_naswot`` (log synflow + naswot, one cell at a time: what ``nas search --score zero_cost``
ranks children by), and to every
training the reading ``loss512+zc``: the sum of the ranks of ``loss512``, synflow and naswot.
Combining a training-based estimate with zero-cost ones is what White et al.'s OMNI predictor does
(NeurIPS 2021, "How powerful are performance predictors in neural architecture search?", with a
learned model; here an unweighted rank sum); it asks whether the search's short training adds
anything to what the untrained network already says. A rank sum is a
property of the set of cells, not of one child, so it is a measurement, not a score a search could
use as it stands.

Each trained child is one line of ``--log`` (JSON), written as it finishes, so an interrupted run
keeps what it measured and the same command resumes it (``--report-only`` summarises the log).

    nice python bench/proxy_fidelity.py --cells 25 --log /tmp/fidelity.jsonl     # NAS-Bench-201
    python bench/proxy_fidelity.py --space nasnet --cells 20 --trainings today,today@1
    python bench/proxy_fidelity.py --quick --json                                  # every step, tiny
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TABLE = REPO_ROOT.parent / "shared" / "data" / "nats-bench" / "nats_bench_tss.csv"


@dataclass(frozen=True)
class Training:
    """How the children of one training are trained (the search's proxy unless said otherwise)."""

    epochs: int = 1
    train_size: int | None = 2048  # None: every training image the 512 leave (4,573 here)
    batch_size: int = 32
    lr: float = 0.1
    weight_decay: float = 3e-4
    val_size: int = 512  # held out of the training batches (the search's --val-size)
    N: int = 1
    C: int = 8
    crn: bool = True
    seed: int = 0


TRAININGS: dict[str, Training] = {
    "today": Training(),
    "e3": Training(epochs=3, train_size=672),  # 21 steps x 3: the 63 of 2,048 // 32, rounded down
    "e9": Training(epochs=9, train_size=224),  # 7 steps x 9
    "C16": Training(C=16),
    "N2": Training(N=2),
    "nocrn": Training(crn=False),
    "x4": Training(epochs=4),  # 4x today's steps: 4 epochs of the same 2,048 images
    "x8": Training(epochs=8),
    "x4C16": Training(epochs=4, C=16),
    "all1": Training(train_size=None),  # more images, not more epochs (EcoNAS): 2.2x today's steps
    "all1b64": Training(train_size=None, batch_size=64),  # the same images in 71 steps of 64
    "lr05": Training(lr=0.05),
    "wd0": Training(weight_decay=0.0),
    "v1536b64": Training(train_size=None, batch_size=64, val_size=1536),  # 3x the split, 3,549 images
}
"""The trainings by name; ``name@1`` is the same with seed 1 (`training_of`)."""
DEFAULT_TRAININGS = "today,today@1,e3,nocrn,C16,e9,e3@1,nocrn@1,N2"
"""In the order they run: today's proxy and its second seed first, so a run cut short has those."""
READINGS = ("acc512", "loss512", "acc1536", "loss1536", "acc4054", "loss4054", "acctest", "losstest", "sotl")
"""Ways to read a trained child, each higher-is-better (losses negated). A training has the readings
of its own validation split (512 or 1,536); the 4,054-image ones need the 512 split and the
training-batch images the 2,048 leave unused, so a training on more images has none."""
ZERO_COST = ("synflow", "naswot")
"""``--zero-cost``'s proxies: the two best on the table (docs/zero_cost.md)."""
PER_CELL = "synflow_naswot"
"""Their per-cell combination, ``nas search --score zero_cost``'s (`nas.proxies.synflow_naswot`)."""


def training_of(name: str) -> Training:
    base, _, seed = name.partition("@")
    if base not in TRAININGS or (seed and not seed.isdigit()):
        raise SystemExit(
            f"proxy_fidelity: unknown training {name!r}; known: {', '.join(TRAININGS)} (+ @SEED)"
        )
    return replace(TRAININGS[base], seed=int(seed or TRAININGS[base].seed))


def log(line: str) -> None:
    """Progress on stderr (stdout holds the figures): a run of hours shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def kendall_band(n: int) -> float:
    """Half-width of tau's 95% band under independence (normal approximation, Kendall 1938)."""
    return 1.96 * math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else math.nan


def ranks(values: Sequence[float]) -> list[float]:
    """0-based ranks, lowest first; tied values get their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2
        i = j + 1
    return out


def rank_sum(*columns: Sequence[float]) -> list[float]:
    """Each cell's sum of its ranks in ``columns`` (all higher-is-better, one value per cell)."""
    return [sum(r) for r in zip(*(ranks(c) for c in columns), strict=True)]


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (ties get their mean rank)."""
    rx, ry = ranks(x), ranks(y)
    try:
        return statistics.correlation(rx, ry)
    except statistics.StatisticsError:  # a constant sequence
        return math.nan


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", choices=("nb201", "nasnet"), default="nb201")
    parser.add_argument("--cells", type=int, default=50, help="random cells (seeded by --cell-seed)")
    parser.add_argument("--cell-seed", type=int, default=12345)
    parser.add_argument("--trainings", default=DEFAULT_TRAININGS, help="comma-separated, run in this order")
    parser.add_argument("--blocks", type=int, default=5, help="NASNet space: blocks per cell")
    parser.add_argument(
        "--data-dir", help="CIFAR-10 folder (default: $NAS_DATA_DIR, else ../shared/data/cifar10)"
    )
    parser.add_argument(
        "--table",
        help="the NAS-Bench-201 table (CSV; default: $NAS_BENCH_TABLE, else ../shared/data/nats-bench)",
    )
    parser.add_argument("--log", help="JSON lines, one per trained child; an existing log is resumed")
    parser.add_argument("--report-only", action="store_true", help="summarise --log, train nothing")
    parser.add_argument(
        "--zero-cost", action="store_true", help="also rank the cells by synflow and naswot, and with loss512"
    )
    parser.add_argument("--quick", action="store_true", help="3 cells, tiny sizes: every step runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    args.trainings = [t for t in args.trainings.split(",") if t]
    for name in args.trainings:
        training_of(name)
    if args.quick:
        args.cells, args.blocks = 3, 2
    if args.report_only and not args.log:
        parser.error("--report-only needs --log")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    import os

    import numpy as np
    import torch

    from nas.train.data import ENV_VAR, Split, load_cifar10

    data_dir = (
        args.data_dir or os.environ.get(ENV_VAR) or str(REPO_ROOT.parent / "shared" / "data" / "cifar10")
    )
    rng = np.random.default_rng(args.cell_seed)
    space = _space(args)
    cells = [
        space.decode([int(rng.integers(len(d.choices))) for d in space.decisions]) for _ in range(args.cells)
    ]
    truth = _ground_truth(args, cells)
    log_path = Path(args.log) if args.log else Path(tempfile.mkdtemp()) / "fidelity.jsonl"
    done = _read_log(log_path, args.space)
    started = time.perf_counter()
    loaded: dict[int, tuple[Any, Any, Any]] = {}

    def data_for(val_size: int) -> tuple[Any, Any, Any]:
        """The search's data with ``val_size`` held out, the 4,054 (512 only, else None), the test batch."""
        if val_size not in loaded:
            full = load_cifar10(
                data_dir, val_size=val_size // (4 if args.quick else 1), split_seed=0, with_test=True
            )
            assert full.test is not None
            big, test = None, Split(full.test.images, full.test.labels)
            if val_size == 512:  # the 4,054: the 512, the training images the 2,048 leave, the test batch
                used = 2048 if not args.quick else 256
                big = Split(
                    torch.cat([full.val.images, full.train.images[used:], full.test.images]),
                    torch.cat([full.val.labels, full.train.labels[used:], full.test.labels]),
                )
            if args.quick:  # the readings on fewer images: a tiny child is cheap, 4,054 evaluations are not
                big = Split(big.images[:256], big.labels[:256]) if big is not None else None
                test = Split(test.images[:256], test.labels[:256])
            loaded[val_size] = (replace(full, test=None), big, test)
        return loaded[val_size]

    if not args.report_only:
        with tempfile.TemporaryDirectory() as tmp, log_path.open("a", encoding="utf-8") as out:
            for name in args.trainings:
                for index, genotype in enumerate(cells):
                    key = _key(name, genotype)
                    if key in done:
                        continue
                    val_size = training_of(name).val_size
                    row = _train_one(args, name, index, genotype, *data_for(val_size), Path(tmp))
                    done[key] = row
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    accuracy = row["scores"][f"acc{val_size}"]
                    log(f"{name} cell {index}: {accuracy:.4f} in {row['train_s']:.1f} s")
    zero_cost = _zero_cost(args.space, cells, data_dir, args.quick) if args.zero_cost else None
    figures = summarise(args, cells, truth, done, zero_cost)
    figures["wall_s"] = time.perf_counter() - started
    figures["log"] = str(log_path)
    if args.json:
        print(json.dumps({"args": vars(args), "summary": summary_line(figures), **figures}))
    else:
        print_table(figures)
    return 0


def _space(args: argparse.Namespace) -> Any:
    if args.space == "nasnet":
        from search_spaces import get_space

        return get_space("nasnet", num_blocks=args.blocks)
    from search_spaces import get_space

    return get_space("nas-bench-201")


def _ground_truth(args: argparse.Namespace, cells: Sequence[Any]) -> list[float] | None:
    """The table's 200-epoch CIFAR-10 accuracy of each cell (NAS-Bench-201 only)."""
    if args.space != "nb201":
        return None
    import os

    from nas.space.nb201_table import ENV_VAR, load_table  # Nb201Table.accuracy: percent

    table = load_table(args.table or os.environ.get(ENV_VAR) or str(TABLE))
    return [table.accuracy(cell) for cell in cells]


def _zero_cost(
    space: str, cells: Sequence[Any], data_dir: str, quick: bool
) -> tuple[list[dict[str, float]], float]:
    """Each cell's `ZERO_COST` scores at the search's child size, and the seconds per cell."""
    from nas.proxies.score import Scorer, ScoreSettings

    space = "nasnet" if space == "nasnet" else "nas-bench-201"
    started = time.perf_counter()
    scorer = Scorer(
        ScoreSettings(
            space=space, proxies=(*ZERO_COST, PER_CELL), data_dir=data_dir, batch_size=16 if quick else None
        )
    )
    scores = scorer.score_all(cells)
    log(f"zero-cost: {len(cells)} cells scored")
    return scores, (time.perf_counter() - started) / len(cells)


def _key(name: str, genotype: Any) -> str:
    return f"{name} {genotype.to_json(indent=None)}"


def _read_log(path: Path, space: str) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {f"{r['training']} {r['genotype']}": r for r in rows if r["space"] == space}


def _train_one(
    args: argparse.Namespace,
    name: str,
    index: int,
    genotype: Any,
    data: Any,
    big: Any,
    test: Any,
    tmp: Path,
) -> dict[str, Any]:
    """Train ``genotype`` under training ``name`` and read it every way (`READINGS`)."""
    from nas.model.network import NetworkConfig
    from nas.train.trainer import TrainConfig, evaluate, train_child

    t = training_of(name)
    train_size = t.train_size or len(data.train.labels)
    if args.quick:
        train_size = max(64, train_size // 8)
    config = TrainConfig(
        epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, weight_decay=t.weight_decay, seed=t.seed,
        crn=t.crn, device="cpu", train_size=train_size, val_size=None,
    ).for_trial(str(index))  # fmt: skip
    network = NetworkConfig(N=t.N, C=t.C if not args.quick else 4)
    checkpoint = tmp / "child.pt"
    result = train_child(genotype, network, config, data, checkpoint=checkpoint)
    if result.status != "completed":
        raise SystemExit(f"proxy_fidelity: cell {index} failed under {name}: {result.error}")
    model = _load(genotype, network, checkpoint)
    started = time.perf_counter()
    acc_test, loss_test = evaluate(model, test.images, test.labels, channels_last=True)
    test_s = time.perf_counter() - started
    assert result.final_val_accuracy is not None and result.train_loss_sum is not None
    assert result.val_loss is not None
    scores: dict[str, float] = {
        f"acc{t.val_size}": result.final_val_accuracy,
        f"loss{t.val_size}": -result.val_loss_history[-1],
        "acctest": acc_test,
        "losstest": -loss_test,
        "sotl": -result.train_loss_sum,
    }
    big_s = 0.0
    if big is not None and t.train_size is not None and t.train_size <= 2048:  # none it trained on
        started = time.perf_counter()
        acc_big, loss_big = evaluate(model, big.images, big.labels, channels_last=True)
        scores |= {"acc4054": acc_big, "loss4054": -loss_big}
        big_s = time.perf_counter() - started
    return {
        "space": args.space,
        "training": name,
        "cell": index,
        "genotype": genotype.to_json(indent=None),
        "seed": config.seed,
        "train_s": result.wall_s,
        "big_eval_s": big_s,
        "big_val_size": len(big.labels) if big is not None else 0,
        "test_eval_s": test_s,
        "scores": scores,
    }


def _load(genotype: Any, network: Any, checkpoint: Path) -> Any:
    """The trained child back from its checkpoint (either space: the checkpoint records its genotype
    and network config), to read it on the bigger split."""
    import torch

    from nas.model.checkpoint import read_network_state

    model = read_network_state(checkpoint).build()
    return model.to(memory_format=torch.channels_last)


def summarise(
    args: argparse.Namespace,
    cells: Sequence[Any],
    truth: Sequence[float] | None,
    done: dict[str, dict[str, Any]],
    zero_cost: tuple[list[dict[str, float]], float] | None = None,
) -> dict[str, Any]:
    """Per (training, reading): tau and rho against the table, seconds per child, seed-to-seed tau;
    with ``zero_cost`` (`_zero_cost`) its own setting and each training's ``loss512+zc``."""
    from nas.results.report import kendall_tau

    def correlate(entry: dict[str, Any], scores: Sequence[float], indices: Sequence[int]) -> None:
        if truth is not None:
            entry["tau"] = kendall_tau(scores, [truth[i] for i in indices])
            entry["rho"] = spearman_rho(scores, [truth[i] for i in indices])

    settings: list[dict[str, Any]] = []
    if zero_cost is not None:
        zc, zc_seconds = zero_cost
        columns = {p: [z[p] for z in zc] for p in ZERO_COST}
        columns["+".join(ZERO_COST)] = rank_sum(*columns.values())
        columns[PER_CELL] = [z[PER_CELL] for z in zc]
        for reading, column in columns.items():
            zc_entry: dict[str, Any] = {
                "training": "zero-cost", "reading": reading, "n": len(cells),
                "band": kendall_band(len(cells)), "s_per_child": zc_seconds,
            }  # fmt: skip
            correlate(zc_entry, column, range(len(cells)))
            settings.append(zc_entry)
    for name in args.trainings:
        # a run cut short: each figure over the cells it has (the same cells for both seeds of a tau)
        rows = {i: done[_key(name, g)] for i, g in enumerate(cells) if _key(name, g) in done}
        if not rows:
            continue
        base, _, seed = name.partition("@")
        twin = {
            i: done[_key(f"{base}@1", g)]
            for i, g in enumerate(cells)
            if not seed and _key(f"{base}@1", g) in done
        }
        paired = [i for i in rows if i in twin]
        for reading in READINGS:
            # a training has no 4,054 readings if it trains on those images; older logs no test ones
            read = {i: r for i, r in rows.items() if reading in r["scores"]}
            if not read:
                continue
            scores = [r["scores"][reading] for r in read.values()]
            extra = "big_eval_s" if "4054" in reading else "test_eval_s" if "test" in reading else None
            seconds = statistics.fmean(r["train_s"] + (r[extra] if extra else 0.0) for r in read.values())
            entry: dict[str, Any] = {
                "training": name, "reading": reading, "n": len(read), "band": kendall_band(len(read)),
                "s_per_child": seconds,
            }  # fmt: skip
            correlate(entry, scores, list(read))
            pairs = [i for i in paired if i in read and reading in twin[i]["scores"]]
            if len(pairs) > 1:
                ours = [read[i]["scores"][reading] for i in pairs]
                entry["seed_tau"] = kendall_tau(ours, [twin[i]["scores"][reading] for i in pairs])
                entry["seed_n"] = len(pairs)
            settings.append(entry)
        indices = [i for i, r in rows.items() if "loss512" in r["scores"]]
        if zero_cost is not None and indices:
            hybrid = rank_sum(
                [rows[i]["scores"]["loss512"] for i in indices],
                *([zero_cost[0][i][p] for i in indices] for p in ZERO_COST),
            )
            entry = {
                "training": name, "reading": "loss512+zc", "n": len(indices), "band": kendall_band(len(indices)),
                "s_per_child": statistics.fmean(rows[i]["train_s"] for i in indices) + zero_cost[1],
            }  # fmt: skip
            correlate(entry, hybrid, indices)
            settings.append(entry)
    n = len(cells)
    figures: dict[str, Any] = {
        "space": args.space,
        "n": n,
        "chance_band": kendall_band(n),
        "settings": settings,
    }
    if truth is not None:
        figures["truth_mean"] = statistics.fmean(truth)
    key = "tau" if truth is not None else "seed_tau"
    ranked = [s for s in settings if not math.isnan(s.get(key, math.nan))]
    today = next((s for s in settings if s["training"] == "today" and s["reading"] == "acc512"), None)
    best = max(ranked, key=lambda s: s[key], default=None)
    figures["today"] = today
    figures["best"] = best
    return figures


def _fmt(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:+.3f}"


def print_table(figures: dict[str, Any]) -> None:
    print(
        f"{figures['space']}: {figures['n']} random cells; tau's 95% chance band +-{figures['chance_band']:.3f}"
    )
    wide = max([10, *(len(s["training"]) + 2 for s in figures["settings"])])
    print(f"{'training':{wide}}{'reading':16}{'n':>4}{'tau':>8}{'rho':>8}{'seed tau (n)':>15}{'s/child':>9}")
    for s in figures["settings"]:
        seed = f"{_fmt(s.get('seed_tau'))} ({s['seed_n']})" if "seed_n" in s else "-"
        print(
            f"{s['training']:{wide}}{s['reading']:16}{s['n']:>4}{_fmt(s.get('tau')):>8}{_fmt(s.get('rho')):>8}"
            f"{seed:>15}{s['s_per_child']:>9.1f}"
        )
    print(summary_line(figures))


def summary_line(figures: dict[str, Any]) -> str:
    key = "tau" if figures["space"] == "nb201" else "seed_tau"

    def describe(entry: dict[str, Any] | None) -> str:
        if entry is None:
            return "n/a"
        n = entry.get("seed_n", 0) if key == "seed_tau" else entry["n"]
        return (
            f"{entry['training']}/{entry['reading']} {key} {_fmt(entry.get(key))} (n={n}) "
            f"at {entry['s_per_child']:.1f} s/child"
        )

    return (
        f"proxy_fidelity: {figures['space']} n={figures['n']} (chance +-{figures['chance_band']:.2f}); "
        f"today {describe(figures['today'])}; best {describe(figures['best'])}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
