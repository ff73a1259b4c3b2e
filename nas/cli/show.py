"""`nas show`: a genotype's cells as tables, and the network's params and mult-adds.

A published cell is built in its own paper's layout (`nas.space.published.MACROS`: stem, stage cell
counts, what F means) and ``--preset cifar|mobile|large`` builds the network its paper reports, whose
figures are printed beside ours; a genotype file is built in NASNet's layout. A NAS-Bench-201 cell (an
arch string, its JSON, or the run folder of its search) is one table of its 6 edges, built in the
benchmark's own network (Dong & Yang 2020, Sec. 2.1: N=5, C=16 unless ``--N``/``--C`` say otherwise).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from nas.cli.common import (
    add_json_argument,
    add_size_arguments,
    check_network_size,
    check_output_file,
    integer,
    print_json,
)

if TYPE_CHECKING:
    from nas.model.network import NetworkConfig
    from nas.space.genotype import Genotype
    from nas.space.load import AnyGenotype
    from nas.space.nb201 import Nb201Genotype
    from nas.space.published import Macro, PaperNetwork


HELP = "print a genotype's cells and its network's params / mult-adds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.space.published import PRESETS

    parser.add_argument(
        "genotype",
        help="a genotype JSON file, a search's run folder, a published cell (nasnet-a, amoebanet-a, "
        "...) or a NAS-Bench-201 arch string ('|nor_conv_3x3~0|+|...|')",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="the network the cell's paper reports (default: cifar, or mobile with --dataset imagenet); "
        "flags given override it",
    )
    parser.add_argument("--dataset", choices=("cifar10", "imagenet"), default=None)
    add_size_arguments(
        parser,
        default_N=None,
        default_F=None,
        F_help="the paper's F: penultimate filters for NASNet-A and genotype files, C (first-stage "
        "width) for amoebanet-a, pnas, darts-v2 and enas, as their papers use it",
    )
    parser.add_argument(
        "--image-size", type=integer(1, 4096), default=None, help="input size (default 32 / 224)"
    )
    parser.add_argument(
        "--stem-multiplier",
        type=integer(1, 16),
        default=None,
        help="stem width factor: CIFAR stem = multiplier x C, ImageNet stem conv = 32 x multiplier "
        "(NASNet-A large and PNASNet-5 large use 3)",
    )
    parser.add_argument(
        "--plot", default=None, metavar="PATH", help="also draw the cells into PATH (.png or .svg)"
    )
    add_json_argument(parser)
    parser.set_defaults(run=run)


def _sizes(args: argparse.Namespace, genotype: Genotype) -> tuple[Macro, dict[str, Any], PaperNetwork | None]:
    """The genotype's paper layout, the `NetworkConfig` fields, and the paper's network if built."""
    from nas.errors import ConfigError
    from nas.model.network import channels_for
    from nas.space.published import macro_for

    macro = macro_for(genotype)
    preset_name = args.preset or ("mobile" if args.dataset == "imagenet" else "cifar")
    needs_preset = args.preset is not None or args.N is None or (args.F is None and args.C is None)
    preset = macro.preset(preset_name) if needs_preset else macro.networks.get(preset_name)
    dataset = args.dataset or "cifar10"
    if args.preset is not None and preset is not None:
        if args.dataset not in (None, preset.dataset):
            raise ConfigError(
                f"--preset {args.preset} builds a network on {preset.dataset}, not {args.dataset}"
            )
        dataset = preset.dataset
    use = preset if preset is not None and preset.dataset == dataset else None
    F = args.F if args.F is not None or args.C is not None or use is None else use.F
    C = args.C if args.C is not None else channels_for(genotype, F, macro)
    stem_multiplier = args.stem_multiplier
    if stem_multiplier is None and use is not None:
        stem_multiplier = use.stem_multiplier
    fields: dict[str, Any] = {
        **macro.layout(dataset),
        "dataset": dataset,
        "N": args.N if args.N is not None else use.N if use is not None else 6,
        "C": C,
        "image_size": args.image_size if args.image_size is not None or use is None else use.image_size,
    }
    if stem_multiplier is not None:
        fields["stem_multiplier"] = stem_multiplier
    return macro, fields, use


def run(args: argparse.Namespace) -> int:
    from nas.space.nb201 import Nb201Genotype
    from nas.space.published import resolve_any_genotype

    genotype = resolve_any_genotype(args.genotype)
    if isinstance(genotype, Nb201Genotype):
        return _show_nb201(args, genotype)
    return _show_nasnet(args, genotype)


def _costs(genotype: AnyGenotype, config: NetworkConfig) -> tuple[int, int]:
    """Params and mult-adds of ``genotype``'s network, counted on PyTorch's meta device (shapes only:
    a 90M-parameter network is counted without its memory), after refusing one over the size limit."""
    import torch

    from nas.model.build import build_any_network
    from nas.model.counting import count_mult_adds, count_params

    check_network_size(genotype, config)
    with torch.device("meta"):
        model = build_any_network(genotype, config)
    assert config.image_size is not None
    return count_params(model), count_mult_adds(model, config.image_size)


def _show_nasnet(args: argparse.Namespace, genotype: Genotype) -> int:
    from rich.console import Console
    from rich.table import Table

    from nas.model.network import NetworkConfig
    from nas.space.genotype import display_name

    macro, fields, paper = _sizes(args, genotype)
    if args.plot is not None:
        check_output_file(args.plot, "--plot")
    config = NetworkConfig(**fields)
    params, mult_adds = _costs(genotype, config)
    F = config.C if macro.F_means == "C" else config.filters(genotype)
    summary: dict[str, Any] = {
        "genotype": genotype.name or args.genotype,  # data: --json prints it escaped as JSON
        "dataset": config.dataset,
        "N": config.N,
        "F": F,
        "F_means": macro.F_means,
        "C": config.C,
        "penultimate_filters": config.filters(genotype),
        "stage_cells": list(config.stage_cells()),
        "stem": config.stem,
        "stem_multiplier": config.stem_multiplier,
        "image_size": config.image_size,
        "layout_source": macro.source,
        "params": params,
        "mult_adds": mult_adds,
    }
    if paper is not None and _is_paper_network(config, F, paper, macro):
        summary["paper"] = {"params": paper.params, "mult_adds": paper.mult_adds, "note": paper.note}
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
    stages = "/".join(map(str, summary["stage_cells"]))
    console.print(
        f"{label} on {config.dataset}: {config.N} @ {F} (F = {macro.F_means}; C={config.C}, "
        f"normal cells {stages}, {config.stem} stem x{config.stem_multiplier}, {config.image_size}px): "
        f"{summary['params'] / 1e6:.2f}M params, "
        f"{summary['mult_adds'] / 1e6:.1f}M mult-adds (auxiliary head excluded)",
        markup=False,  # the name is data: "[/bogus]" is text, not a closing tag
    )
    if paper is not None and "paper" in summary:
        cost = f"{paper.params / 1e6:.1f}M params"
        if paper.mult_adds is not None:
            cost += f", {paper.mult_adds / 1e6:.0f}M mult-adds"
        console.print(f"paper: {cost}" + (f" ({paper.note})" if paper.note else ""))
    if args.plot is not None:
        console.print(f"cells drawn in {display_name(summary['plot'], limit=1000)}", markup=False)
    return 0


_NASNET_ONLY = ("preset", "F", "image_size", "stem_multiplier")
"""`nas show` flags of the NASNet layouts that a NAS-Bench-201 network has no counterpart for."""


def _show_nb201(args: argparse.Namespace, genotype: Nb201Genotype) -> int:
    """The cell's edges as a table and the benchmark's network's costs (`nas.model.nb201`)."""
    from rich.console import Console
    from rich.table import Table

    from nas.errors import ConfigError
    from nas.model.nb201 import NUM_STAGES, PAPER_SIZE
    from nas.model.network import NetworkConfig
    from nas.space.genotype import display_name

    given = ["--" + flag.replace("_", "-") for flag in _NASNET_ONLY if getattr(args, flag) is not None]
    if given:
        raise ConfigError(
            f"{', '.join(given)}: a NAS-Bench-201 network is sized by --N and --C only "
            f"(the benchmark's: --N {PAPER_SIZE['N']} --C {PAPER_SIZE['C']})"
        )
    if args.dataset not in (None, "cifar10"):
        raise ConfigError(
            f"--dataset {args.dataset}: a NAS-Bench-201 network is built for 32x32 CIFAR images"
        )
    if args.plot is not None:
        check_output_file(args.plot, "--plot")
    config = NetworkConfig(
        N=args.N if args.N is not None else PAPER_SIZE["N"],
        C=args.C if args.C is not None else PAPER_SIZE["C"],
    )
    params, mult_adds = _costs(genotype, config)
    summary: dict[str, Any] = {
        "genotype": genotype.name or genotype.arch,
        "space": "nas-bench-201",
        "arch": genotype.arch,
        "dataset": config.dataset,
        "N": config.N,
        "C": config.C,
        "stage_channels": [config.C << stage for stage in range(NUM_STAGES)],
        "image_size": config.image_size,
        "layout_source": "Dong & Yang 2020, Sec. 2.1 (NAS-Bench-201)",
        "params": params,
        "mult_adds": mult_adds,
    }
    if args.plot is not None:
        from nas.space.diagram import draw_genotype

        summary["plot"] = str(draw_genotype(genotype, args.plot))
    if args.json:
        print_json({**summary, "cells": genotype.to_dict()})
        return 0
    console = Console(highlight=False)
    table = Table(title="NAS-Bench-201 cell (node 3 is the output)")
    for col in ("edge", "from node", "to node", "op"):
        table.add_column(col)
    for k, (to, frm, op) in enumerate(genotype.edges()):
        table.add_row(str(k), str(frm), str(to), op)
    console.print(table)
    if genotype.name is not None:
        console.print(display_name(genotype.name), markup=False)  # data: "[/bogus]" is text
    console.print(genotype.arch, markup=False, soft_wrap=True)
    widths = "/".join(map(str, summary["stage_channels"]))
    console.print(
        f"NAS-Bench-201 network on {config.dataset}: {config.N} cells per stage at C={config.C} "
        f"({widths} channels, {config.image_size}px): {params / 1e6:.2f}M params, "
        f"{mult_adds / 1e6:.1f}M mult-adds"
    )
    if args.plot is not None:
        console.print(f"cell drawn in {display_name(summary['plot'], limit=1000)}", markup=False)
    return 0


def _is_paper_network(config: NetworkConfig, F: int, paper: PaperNetwork, macro: Macro) -> bool:
    """Whether ``config`` is the network the paper reports (so its figures can be shown beside ours)."""
    stem = paper.stem_multiplier or macro.stem_multiplier_for(paper.dataset)
    return (config.dataset, config.N, F, config.image_size, config.stem_multiplier) == (
        paper.dataset, paper.N, paper.F, paper.image_size, stem,
    )  # fmt: skip
