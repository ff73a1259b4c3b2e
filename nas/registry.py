"""Name -> factory tables (the ops, the searchers): one way to add to them, and no name is replaced.

timm's and DARTS' registries are plain dicts filled by decorators; a second registration under a
taken name would silently swap a primitive or a searcher, so it is an error here.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, TypeVar

T = TypeVar("T")


def add(table: MutableMapping[str, Any], kind: str, name: str, factory: T) -> T:
    """``table[name] = factory``; ``factory`` back, so a decorator can return it."""
    if name in table:
        raise ValueError(f"{kind} {name!r} is already registered")
    table[name] = factory
    return factory
