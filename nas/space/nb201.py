"""NAS-Bench-201 genotypes: one op on each of the 6 edges of a 4-node cell, as validated data.

NAS-Bench-201 (Dong & Yang, ICLR 2020, Sec. 2; NATS-Bench's topology search space) searches one cell,
stacked into a fixed network (`nas.model.nb201`). The cell is a DAG of 4 nodes: node 0 is the cell's
input, node j > 0 sums one op applied to each earlier node, node 3 is the output. Each of the 6 edges
carries one of 5 ops (`NB201_OPS`), so the space has 5^6 = 15,625 cells, every one of them trained for
200 epochs by the authors.

The benchmark names a cell by its *arch string*, node 1's edges, then node 2's, then node 3's, each
edge ``op~i`` with i the node it reads from::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

That string is this genotype's display form, its canonical form (the table's key) and the heart of its
JSON. As with NASNet genotypes (`nas.space.genotype`) nothing is pickled or ``eval``-ed: the JSON
carries a schema version and every field is checked on load, with one-line errors that name the edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import GenotypeError, shown

SPACE_NAME = "nas-bench-201"
"""The space's name: ``--space nas-bench-201``, and the ``space`` field of the genotype's JSON."""
SCHEMA_VERSION = 1
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The 5 ops, in the benchmark's order (xautodl's ``NAS_BENCH_201`` search space)."""
NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = tuple((to, frm) for to in range(1, NUM_NODES) for frm in range(to))
"""(to, from) of the 6 edges in arch-string order: 1<-0; 2<-0, 2<-1; 3<-0, 3<-1, 3<-2."""
_JSON_FIELDS = frozenset({"schema_version", "space", "name", "arch"})


@dataclass(frozen=True)
class Nb201Genotype:
    """The ops of the 6 edges, in `EDGES` order; ``name`` is a label, not part of the cell.

    Two genotypes are equal when they are the same cell (the same arch string), whatever their names.
    Construction validates: every way in (arch string, JSON, decisions) gets the same checks.
    """

    ops: tuple[str, ...]
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.ops, tuple) or len(self.ops) != len(EDGES):
            raise GenotypeError(f"a NAS-Bench-201 cell has {len(EDGES)} edge ops, got {shown(self.ops)}")
        for (to, frm), op in zip(EDGES, self.ops, strict=True):
            if op not in NB201_OPS:
                raise GenotypeError(f"edge {to}<-{frm}: unknown op {shown(op)}; ops: {', '.join(NB201_OPS)}")
        if self.name is not None and not isinstance(self.name, str):
            raise GenotypeError(f"name: expected a string, got {shown(self.name)}")

    @property
    def arch(self) -> str:
        """The benchmark's arch string of this cell."""
        nodes: list[str] = []
        for to in range(1, NUM_NODES):
            edges = (f"{op}~{frm}" for (t, frm), op in zip(EDGES, self.ops, strict=True) if t == to)
            nodes.append("|" + "|".join(edges) + "|")
        return "+".join(nodes)

    def __str__(self) -> str:
        return self.arch

    def edges(self) -> tuple[tuple[int, int, str], ...]:
        """(to, from, op) of each edge, in arch-string order."""
        return tuple((to, frm, op) for (to, frm), op in zip(EDGES, self.ops, strict=True))

    @classmethod
    def from_arch(cls, text: str, *, name: str | None = None) -> Nb201Genotype:
        """Parse an arch string; a malformed one is a one-line `GenotypeError` naming the node or edge."""
        if not isinstance(text, str):
            raise GenotypeError(f"arch string: expected a string, got {shown(text)}")
        nodes = text.strip().split("+")
        if len(nodes) != NUM_NODES - 1:
            raise GenotypeError(
                f"arch string: expected {NUM_NODES - 1} nodes joined by '+' "
                f"(e.g. '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'), got {len(nodes)} in {shown(text)}"
            )
        ops: list[str] = []
        for to, node in enumerate(nodes, start=1):
            if len(node) < 2 or node[0] != "|" or node[-1] != "|":
                raise GenotypeError(f"node {to}: expected '|op~i|...|', got {shown(node)}")
            tokens = node[1:-1].split("|")
            if len(tokens) != to:
                raise GenotypeError(f"node {to}: expected {to} edge(s), got {len(tokens)} in {shown(node)}")
            for frm, token in enumerate(tokens):
                op, tilde, source = token.rpartition("~")
                if not tilde or source != str(frm):
                    raise GenotypeError(f"edge {to}<-{frm}: expected 'op~{frm}', got {shown(token)}")
                ops.append(op)
        return cls(tuple(ops), name=name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "space": SPACE_NAME}
        if self.name is not None:
            out["name"] = self.name
        out["arch"] = self.arch
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> Nb201Genotype:
        if not isinstance(data, Mapping):
            raise GenotypeError("genotype: expected a JSON object")
        version = data.get("schema_version")
        if isinstance(version, bool) or version != SCHEMA_VERSION:  # True == 1 in Python, not in JSON
            raise GenotypeError(f"schema_version: expected {SCHEMA_VERSION}, got {shown(version)}")
        space = data.get("space", SPACE_NAME)
        if space != SPACE_NAME:
            raise GenotypeError(f"space: expected {SPACE_NAME!r}, got {shown(space)}")
        unknown = set(data) - _JSON_FIELDS
        if unknown:
            raise GenotypeError(f"genotype: unknown field(s) {shown(sorted(map(str, unknown)))}")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise GenotypeError(f"name: expected a string, got {shown(name)}")
        arch = data.get("arch")
        if not isinstance(arch, str):
            raise GenotypeError(f"arch: expected an arch string, got {shown(arch)}")
        try:
            return cls.from_arch(arch, name=name)
        except GenotypeError as exc:
            raise GenotypeError(f"arch: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Nb201Genotype:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise GenotypeError(f"genotype is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")


def is_nb201_data(data: Any) -> bool:
    """Whether parsed genotype JSON claims to be a NAS-Bench-201 cell (its ``space``, or an ``arch``)."""
    return isinstance(data, Mapping) and (data.get("space") == SPACE_NAME or "arch" in data)


def looks_like_arch(text: str) -> bool:
    """Whether ``text`` is meant as an arch string: it starts with ``|`` (no file name does here), or
    it is no JSON and has the string's ``|`` and ``~`` (one with its first ``|`` lost), so that the
    error names what is malformed instead of calling it no file."""
    stripped = text.strip()
    if stripped.startswith("|"):
        return True
    return not stripped.startswith(("{", "[", '"')) and "|" in stripped and "~" in stripped
