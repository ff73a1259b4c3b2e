"""`nas report`: cell diagrams, leaderboards, search curves and Pareto plots of finished runs."""

from __future__ import annotations

import argparse

from nas.cli.common import add_json_argument, check_output_dir, integer, print_json

HELP = "write report.md and index.html of one or more search runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run folders (results/<run>) written by `nas search`")
    parser.add_argument(
        "--out",
        default=None,
        help="output folder (default: the run folder for one run, else <parent>/report)",
    )
    parser.add_argument(
        "--top", type=integer(1, 100_000), default=10, help="children in each leaderboard (default 10)"
    )
    add_json_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.results.report import write_report

    if args.out is not None:
        check_output_dir(args.out, "--out")
    result = write_report(args.runs, args.out, top=args.top)
    if args.json:
        print_json(result)
        return 0
    best = result["best"]
    if best:
        print(
            f"best by {best['score_by']}: {best['run']} ({best['searcher']}) child {best['trial_id']}: "
            + (
                f"{best['score_by']} score {best['score']:.4f} (not trained)"
                if best["val_accuracy"] is None
                else f"{100 * best['val_accuracy']:.2f}% val acc"
            )
            + f", genotype {best['genotype_id']}"
        )
    print(f"wrote {result['report_md']} and {result['index_html']} ({len(result['images'])} images)")
    return 0
