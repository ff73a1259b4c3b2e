"""Build a searcher by name: the layer above the contract (`nas.searcher.base`) and ``controllers/``.

The built-in searchers register themselves in their own modules; `controllers.BUILT_IN` says which
module holds which name, so only the searcher a search picks is imported (``rl`` loads torch, ``tpe``
optuna). A searcher registered by any other module (a plug-in imported before the search) is built
the same way.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, get_type_hints

import controllers
from nas.errors import ConfigError
from nas.searcher.base import SEARCHERS, Searcher
from nas.space.protocol import SearchSpace


def searcher_names() -> tuple[str, ...]:
    """Every searcher a search may name: the built-in ones and any registered since."""
    return tuple(sorted(set(controllers.BUILT_IN) | set(SEARCHERS)))


def searcher_class(name: str) -> type[Searcher]:
    """The class registered as ``name``, importing its built-in module on first use."""
    if name not in SEARCHERS and name in controllers.BUILT_IN:
        importlib.import_module(controllers.BUILT_IN[name])
    try:
        return SEARCHERS[name]
    except KeyError:
        raise ConfigError(f"unknown searcher {name!r}; known: {', '.join(searcher_names())}") from None


def _options_of(cls: type[Searcher]) -> Callable[..., Any] | None:
    """A searcher's ``Options`` (a dataclass its ``**options`` build, e.g. `RLConfig`), if it has one."""
    options_type: Callable[..., Any] | None = getattr(cls, "Options", None)
    return options_type


def check_searcher_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse an unknown searcher, or options its constructor does not take, with a `ConfigError`."""
    cls = searcher_class(name)
    options_type = _options_of(cls)
    try:
        if options_type is not None:
            inspect.signature(options_type).bind(**options)
        else:
            inspect.signature(cls).bind(None, seed=0, **options)
    except TypeError as exc:
        raise ConfigError(f"searcher {name!r}: {exc}") from None


def searcher_option_types(name: str) -> dict[str, Any]:
    """The annotated type of each option searcher ``name`` takes (its ``Options``' or constructor's)."""
    cls = searcher_class(name)
    return get_type_hints(_options_of(cls) or cls.__init__)


def build_space(name: str, *, blocks: int) -> SearchSpace:
    """The space a search's ``--space`` names (``--blocks`` per cell where the space has blocks)."""
    import dataclasses

    from search_spaces import SPACES, get_space

    factory = SPACES.get(name)
    sized = factory is not None and "num_blocks" in {f.name for f in dataclasses.fields(factory)}  # type: ignore[arg-type]
    return get_space(name, **({"num_blocks": blocks} if sized else {}))


def create_searcher(
    name: str, space: SearchSpace, *, seed: int, run_dir: Path | None = None, **options: Any
) -> Searcher:
    """Build the searcher registered as ``name``; unknown names and options are `ConfigError`s.

    ``run_dir``: the run folder it keeps its books in, if any (`Searcher.run_options`).
    """
    check_searcher_options(name, options)
    cls = searcher_class(name)
    bound = cls.run_options(run_dir) if run_dir is not None else {}
    return cls(space, seed=seed, **{**bound, **options})
