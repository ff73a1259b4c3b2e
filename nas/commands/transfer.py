"""`nas transfer`: train the best cell stacked into an ImageNet (or long CIFAR) network."""

from __future__ import annotations

from typing import Any

from nas.commands._pending import add_pending_parser


def add_parser(sub: Any) -> None:
    add_pending_parser(sub, "transfer", "train a found cell on ImageNet with Ray Train", "transfer training")
