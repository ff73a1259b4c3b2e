"""`nas show`: a genotype's two cells as tables, and the network's params and mult-adds."""

from __future__ import annotations

import argparse
from typing import Any

from nas.cli.common import (
    add_json_argument,
    add_size_arguments,
    check_network_size,
    check_output_file,
    integer,
    print_json,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("show", help="print a genotype's cells and its network's params / mult-adds")
    parser.add_argument(
        "genotype", help="a genotype JSON file or a published cell (nasnet-a, amoebanet-a, ...)"
    )
    parser.add_argument("--dataset", choices=("cifar10", "imagenet"), default="cifar10")
    add_size_arguments(parser, default_N=6, default_F=None)
    parser.add_argument(
        "--image-size", type=integer(1, 4096), default=None, help="input size (default 32 / 224)"
    )
    parser.add_argument(
        "--plot", default=None, metavar="PATH", help="also draw both cells into PATH (.png or .svg)"
    )
    add_json_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from nas.model.counting import count_mult_adds, count_params
    from nas.model.network import NetworkConfig, build_network
    from nas.space.genotype import display_name
    from nas.space.published import resolve_genotype

    genotype = resolve_genotype(args.genotype)
    if args.plot is not None:
        check_output_file(args.plot, "--plot")
    fields: dict[str, Any] = {"dataset": args.dataset, "N": args.N, "image_size": args.image_size}
    if args.F is None and args.C is None:
        args.F = 768 if args.dataset == "cifar10" else 1056
    config = (
        NetworkConfig(C=args.C, **fields)
        if args.C is not None
        else NetworkConfig.from_filters(genotype, args.F, **fields)
    )
    check_network_size(genotype, config)
    model = build_network(genotype, config)
    assert config.image_size is not None
    summary: dict[str, Any] = {
        "genotype": genotype.name or args.genotype,  # data: --json prints it escaped as JSON
        "dataset": config.dataset,
        "N": config.N,
        "F": config.filters(genotype),
        "C": config.C,
        "image_size": config.image_size,
        "params": count_params(model),
        "mult_adds": count_mult_adds(model, config.image_size),
    }
    if args.plot is not None:
        from nas.space.diagram import draw_genotype

        summary["plot"] = str(draw_genotype(genotype, args.plot))
    if args.json:
        print_json({**summary, "cells": genotype.to_dict()})
        return 0
    console = Console(highlight=False)
    label = display_name(str(summary["genotype"]))
    for name, cell in genotype.cells():
        table = Table(title=f"{name} cell (outputs: {', '.join(map(str, cell.output_states()))})")
        for col in ("block", "input_a", "op_a", "input_b", "op_b", "combine"):
            table.add_column(col)
        for b, block in enumerate(cell.blocks):
            table.add_row(
                str(b + 2), str(block.input_a), block.op_a, str(block.input_b), block.op_b, block.combine
            )
        console.print(table)
    console.print(
        f"{label} on {config.dataset}: {config.N} @ {summary['F']} (C={config.C}, "
        f"{config.image_size}px): {summary['params'] / 1e6:.2f}M params, "
        f"{summary['mult_adds'] / 1e6:.1f}M mult-adds (auxiliary head excluded)",
        markup=False,  # the name is data: "[/bogus]" is text, not a closing tag
    )
    if args.plot is not None:
        console.print(f"cells drawn in {display_name(summary['plot'], limit=1000)}", markup=False)
    return 0
