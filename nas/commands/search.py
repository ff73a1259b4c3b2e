"""`nas search`: the main job -- searchers propose cells, Ray Tune trains them."""

from __future__ import annotations

import argparse
from typing import Any

from nas.errors import NasError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("search", help="search for a cell (Ray Tune schedules the children)")
    parser.add_argument("--space", default="nasnet", help="search space (default nasnet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from search_spaces import get_space

    space = get_space(args.space)
    raise NasError(
        f"nas search: the {args.space} space ({len(space.decisions)} decisions, {len(space.ops)} ops) is ready, "
        "but Ray Tune scheduling of the children is not built yet"
    )
