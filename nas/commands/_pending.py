"""Parsers for sub-commands whose implementation has not landed yet: they say so, exit 2."""

from __future__ import annotations

import argparse
from typing import Any

from nas.errors import NasError


def add_pending_parser(sub: Any, name: str, help_text: str, missing: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=f"{help_text} [not built yet]")

    def run(args: argparse.Namespace) -> int:
        raise NasError(f"nas {name}: {missing} is not built yet")

    parser.set_defaults(run=run)
    return parser
