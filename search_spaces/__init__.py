"""Search spaces: a space turns a list of categorical choices into a genotype.

`SPACES` maps each ``--space`` name to its space's factory: ``nasnet`` (Zoph et al. 2018; B blocks
per cell) and ``nas-bench-201`` (Dong & Yang 2020; one op on each of 6 edges).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from nas.errors import ConfigError
from nas.space.nb201 import SPACE_NAME as NB201_SPACE
from search_spaces.nas_bench_201 import Nb201Space
from search_spaces.nasnet import Decision, NasnetSpace

Space = NasnetSpace | Nb201Space
"""A space of either kind: ``decisions``, ``decode`` and ``encode``."""

SPACES: dict[str, Callable[..., Space]] = {"nasnet": NasnetSpace, NB201_SPACE: Nb201Space}


def get_space(name: str, **kwargs: Any) -> Space:
    """The space registered as ``name`` built with ``kwargs`` (its fields: ``num_blocks``, ``ops`` for
    nasnet; none for nas-bench-201); an unknown name is a `ConfigError` listing the known ones."""
    try:
        factory = SPACES[name]
    except KeyError:
        raise ConfigError(f"unknown search space {name!r}; known: {', '.join(SPACES)}") from None
    unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(factory)})  # type: ignore[arg-type]
    if unknown:  # e.g. num_blocks for nas-bench-201, whose cell has no size to choose
        raise ConfigError(f"search space {name} has no setting(s) {', '.join(unknown)}")
    return factory(**kwargs)


def get_nasnet_space(name: str, **kwargs: Any) -> NasnetSpace:
    """`get_space` for what only the NASNet space has (the weight-sharing supernet's ops, say)."""
    space = get_space(name, **kwargs)
    if not isinstance(space, NasnetSpace):
        raise ConfigError(f"search space {name}: this takes the NASNet space only")
    return space


__all__ = ["SPACES", "Decision", "NasnetSpace", "Nb201Space", "Space", "get_nasnet_space", "get_space"]
