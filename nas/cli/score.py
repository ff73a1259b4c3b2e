"""`nas score`: the zero-cost proxies of cells, each on the child network as the search builds it.

Every score is computed on an untrained network from one fixed CIFAR-10 minibatch with a fixed
seed (`nas.proxies.score`): the same cell and flags give the same numbers in every process. Higher
is "predicted better" for every proxy (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021; Mellor et al., "Neural Architecture Search without Training", ICML 2021).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from nas.cli.common import add_json_argument, integer, print_json

if TYPE_CHECKING:
    from nas.proxies.score import Scorer
    from nas.space.load import AnyGenotype

HELP = "score cells with zero-cost proxies (synflow, naswot, jacov, ...) without training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.proxies.score import DEFAULT_PROXIES

    parser.add_argument(
        "genotype",
        nargs="*",
        help="genotype files, published cells, NAS-Bench-201 arch strings or run folders",
    )
    parser.add_argument(
        "--random", type=integer(1, 1_000_000), default=None, metavar="N", help="score N random cells"
    )
    parser.add_argument(
        "--space", default=None, help="the space of the --random cells (nasnet, nas-bench-201)"
    )
    parser.add_argument(
        "--proxy",
        default=",".join(DEFAULT_PROXIES),
        help=f"comma-separated proxies (default: all: {','.join(DEFAULT_PROXIES)})",
    )
    parser.add_argument("--N", type=integer(1, 64), default=1, help="cells per stage (default 1)")
    parser.add_argument("--C", type=integer(1, 4096), default=8, help="first-stage channels (default 8)")
    parser.add_argument(
        "--batch-size",
        type=integer(2, 4096),
        default=None,
        help="minibatch size (default: each proxy's paper's, 64; NASWOT 128)",
    )
    parser.add_argument("--seed", type=integer(0, 2**31 - 1), default=0, help="weights, data, --random")
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 folder (default: $NAS_DATA_DIR)")
    add_json_argument(parser)
    parser.set_defaults(run=run)


def _genotypes(args: argparse.Namespace) -> tuple[str, list[AnyGenotype]]:
    """The space and the cells to score: the named ones, or ``--random`` ones of ``--space``."""
    from nas.errors import ConfigError
    from nas.proxies.score import random_genotypes
    from nas.space.nb201 import SPACE_NAME, Nb201Genotype
    from nas.space.published import resolve_any_genotype

    if args.random is not None:
        if args.genotype:
            raise ConfigError("give genotypes or --random N, not both")
        if args.space is None:
            raise ConfigError("--random needs --space (nasnet or nas-bench-201)")
        return args.space, random_genotypes(args.space, args.random, args.seed)
    if not args.genotype:
        raise ConfigError("give genotypes to score, or --random N --space S")
    if args.space is not None:
        raise ConfigError("--space goes with --random; a genotype's space is its own")
    genotypes = [resolve_any_genotype(arg) for arg in args.genotype]
    spaces = {SPACE_NAME if isinstance(g, Nb201Genotype) else "nasnet" for g in genotypes}
    if len(spaces) > 1:
        raise ConfigError("cells of both spaces given; score one space at a time")
    return spaces.pop(), genotypes


def _score(scorer: Scorer, genotypes: list[AnyGenotype], show_progress: bool) -> list[dict[str, float]]:
    """`Scorer.score_all`, with a progress bar on stderr over many cells in a terminal."""
    if not show_progress:
        return scorer.score_all(genotypes)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scoring", total=len(genotypes))
        return scorer.score_all(genotypes, lambda: bar.advance(task))


def run(args: argparse.Namespace) -> int:
    from nas.proxies.score import Scorer, ScoreSettings

    space, genotypes = _genotypes(args)
    settings = ScoreSettings(
        space=space,
        proxies=tuple(p.strip() for p in args.proxy.split(",") if p.strip()),
        N=args.N,
        C=args.C,
        batch_size=args.batch_size,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    scorer = Scorer(settings)
    scores = _score(scorer, genotypes, len(genotypes) > 1 and sys.stderr.isatty() and not args.json)
    names = [g.name or str(g) for g in genotypes]
    seconds = {p: s / len(genotypes) for p, s in scorer.seconds.items()}
    if args.json:
        out: dict[str, Any] = {
            "space": space,
            "settings": {"N": args.N, "C": args.C, "batch_size": args.batch_size, "seed": args.seed},
            "seconds_per_cell": seconds,
            "cells": [
                {"name": n, "genotype": g.to_dict(), "scores": s}
                for n, g, s in zip(names, genotypes, scores, strict=True)
            ],
        }
        print_json(out)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"zero-cost scores ({space}, N={args.N} C={args.C}, seed {args.seed})")
    table.add_column("cell")
    for proxy in settings.proxies:
        table.add_column(proxy, justify="right")
    for name, row in zip(names, scores, strict=True):
        table.add_row(name, *(f"{row[p]:.4g}" for p in settings.proxies))
    table.add_row("s/cell", *(f"{seconds[p]:.3f}" for p in settings.proxies), style="dim")
    Console().print(table)
    return 0
