"""Argument groups and output helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_size_arguments(
    parser: argparse.ArgumentParser, *, default_N: int | None, default_F: int | None
) -> None:
    """``--N`` and either ``--F`` (the paper's N @ F) or ``--C`` (channels per block, first stage)."""
    parser.add_argument(
        "--N",
        type=int,
        default=default_N,
        help="normal cells per stage"
        + (f" (default {default_N})" if default_N is not None else " (default 2)"),
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--F", type=int, default=default_F, help="filters of the penultimate layer, the paper's N @ F"
    )
    size.add_argument(
        "--C", type=int, default=None, help="channels per block in the first stage (instead of F)"
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))
