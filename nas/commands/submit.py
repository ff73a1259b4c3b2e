"""`nas submit`: send a search to a Ray cluster as a Ray job."""

from __future__ import annotations

from typing import Any

from nas.commands._pending import add_pending_parser


def add_parser(sub: Any) -> None:
    add_pending_parser(sub, "submit", "submit a search as a Ray job", "Ray job submission")
