"""What a search space is to the rest of the system: the whole contract, as protocols.

A searcher knows decisions, never networks (Zoph et al. 2018 emit a NASNet cell as a sequence of
softmax decisions; Ying et al. 2019 and Dong & Yang 2020 write NAS-Bench cells as op choices on fixed
edges): it proposes one choice index per `Decision`, and the space `decode`s them into a genotype.
Everything downstream of a searcher -- the Tune adapter, the run folder, the report, the supernet
stage -- reads genotypes through these protocols and the space named by the run's settings, so a
second space is one more implementation of `SearchSpace`, not a branch in each of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class GenotypeLike(Protocol):
    """A decoded architecture: JSON data (`to_dict`), and that data as text (`to_json`)."""

    def to_dict(self) -> dict[str, Any]: ...

    def to_json(self, indent: int | None = 2) -> str: ...


class Decision(Protocol):
    """One categorical decision: a stable ``name`` (e.g. ``normal/b3/op_a``), its ``choices`` as
    text, and its ``kind`` (the role it plays: ``input_a``, ``op``, ...), which a searcher may use to
    share settings between decisions of one kind (the RL controller's tanh constants)."""

    @property
    def name(self) -> str: ...

    @property
    def choices(self) -> tuple[str, ...]: ...

    @property
    def kind(self) -> str: ...


class SearchSpace(Protocol):
    """A space: ``name`` (the ``--space`` value), its decisions, and the maps between choice indices,
    genotypes and their canonical text.

    ``canonical(genotype)``: equal strings mean the same network (symmetries and dead parts folded),
    the key a search uses for "no child trained twice". ``genotype_from_json`` reads what a genotype's
    ``to_dict``/``to_json`` wrote (a dict or its text), validated.
    """

    @property
    def name(self) -> str: ...

    @property
    def decisions(self) -> tuple[Decision, ...]: ...

    def decode(self, choices: Sequence[int]) -> GenotypeLike: ...

    def encode(self, genotype: Any) -> list[int]: ...

    def canonical(self, genotype: Any) -> str: ...

    def genotype_from_json(self, data: str | Mapping[str, Any]) -> GenotypeLike: ...
