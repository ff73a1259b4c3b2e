"""`nas report`: cell diagrams, leaderboards and search curves of finished runs."""

from __future__ import annotations

from typing import Any

from nas.commands._pending import add_pending_parser


def add_parser(sub: Any) -> None:
    add_pending_parser(sub, "report", "write a report of search runs", "the report")
