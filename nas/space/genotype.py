"""Genotypes: a NASNet architecture as plain, validated, JSON-serialisable data.

A genotype is a normal cell and a reduction cell (Zoph et al. 2018, "Learning Transferable
Architectures", Sec. 3). Each cell has B blocks; block b reads two hidden states, applies one op to
each and combines the results, producing hidden state ``b + 2``. State indices follow DARTS and
NASNet: ``0`` is h_{i-2} (the output of the cell before the previous one), ``1`` is h_{i-1},
``2 .. 2 + b - 1`` are the earlier blocks of the same cell. A cell's output is the depth
concatenation of ``outputs``; when a cell does not list them, it is every block no later block
consumed (the paper's rule).

Genotypes are never pickled or ``eval``-ed: ``to_json``/``from_json`` carry a schema version and every
field is checked on load, with errors that name the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nas.errors import GenotypeError, one_line, shown

SCHEMA_VERSION = 1
COMBINES = ("add", "concat")
NUM_INPUT_STATES = 2  # h_{i-2} and h_{i-1}
T = TypeVar("T")


@dataclass(frozen=True)
class Block:
    """One block: ``combine(op_a(state[input_a]), op_b(state[input_b]))``."""

    input_a: int
    input_b: int
    op_a: str
    op_b: str
    combine: str = "add"

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_a": self.input_a,
            "input_b": self.input_b,
            "op_a": self.op_a,
            "op_b": self.op_b,
            "combine": self.combine,
        }


@dataclass(frozen=True)
class Cell:
    """B blocks and, optionally, the explicit list of states concatenated into the output."""

    blocks: tuple[Block, ...]
    outputs: tuple[int, ...] | None = None

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def output_states(self) -> tuple[int, ...]:
        """States concatenated into the cell output: explicit, else the unconsumed blocks."""
        if self.outputs is not None:
            return self.outputs
        consumed = {i for b in self.blocks for i in (b.input_a, b.input_b)}
        return tuple(
            s for s in range(NUM_INPUT_STATES, NUM_INPUT_STATES + self.num_blocks) if s not in consumed
        )

    def ops(self) -> tuple[str, ...]:
        return tuple(op for b in self.blocks for op in (b.op_a, b.op_b))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blocks": [b.to_dict() for b in self.blocks]}
        if self.outputs is not None:
            out["outputs"] = list(self.outputs)
        return out


@dataclass(frozen=True)
class Genotype:
    """A normal cell and a reduction cell with the same number of blocks."""

    normal: Cell
    reduce: Cell
    name: str | None = None

    @property
    def num_blocks(self) -> int:
        return self.normal.num_blocks

    def cells(self) -> tuple[tuple[str, Cell], ...]:
        return (("normal", self.normal), ("reduce", self.reduce))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        if self.name is not None:
            out["name"] = self.name
        out["normal"] = self.normal.to_dict()
        out["reduce"] = self.reduce.to_dict()
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, *, known_ops: Collection[str] | None = None) -> Genotype:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError, UnicodeDecodeError and a number too long for int
            # conversion (Python's 4300-digit limit), which json.loads raises as a bare ValueError.
            raise GenotypeError(f"genotype is not valid JSON: {exc}") from None
        return cls.from_dict(data, known_ops=known_ops)

    @classmethod
    def from_dict(cls, data: Any, *, known_ops: Collection[str] | None = None) -> Genotype:
        if not isinstance(data, Mapping):
            raise GenotypeError("genotype: expected a JSON object")
        version = data.get("schema_version")
        if isinstance(version, bool) or version != SCHEMA_VERSION:  # True == 1 in Python, not in JSON
            raise GenotypeError(f"schema_version: expected {SCHEMA_VERSION}, got {shown(version)}")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise GenotypeError(f"name: expected a string, got {shown(name)}")
        unknown = set(data) - {"schema_version", "name", "normal", "reduce"}
        if unknown:
            raise GenotypeError(f"genotype: unknown field(s) {shown(sorted(map(str, unknown)))}")
        genotype = cls(
            normal=_cell_from_dict(data.get("normal"), "normal"),
            reduce=_cell_from_dict(data.get("reduce"), "reduce"),
            name=name,
        )
        genotype.validate(known_ops=known_ops)
        return genotype

    @classmethod
    def load(cls, path: str | Path) -> Genotype:
        return read_genotype_file(path, cls.from_json)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def validate(self, *, known_ops: Collection[str] | None = None) -> None:
        """Raise `GenotypeError` naming the first bad field; return None when the genotype is sound."""
        if known_ops is None:
            from nas.ops.primitives import (
                OPS,  # deferred: nas.ops.primitives imports torch, plain data checks need not
            )

            known_ops = OPS.keys()
        if self.normal.num_blocks != self.reduce.num_blocks:
            raise GenotypeError(
                f"reduce.blocks: B={self.reduce.num_blocks} but normal has B={self.normal.num_blocks}"
            )
        for cell_name, cell in self.cells():
            _validate_cell(cell, cell_name, known_ops)


def read_genotype_file(path: str | Path, parse: Callable[[str], T]) -> T:
    """``parse`` of the file's text; errors (unreadable file, bad content) name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GenotypeError(f"cannot read genotype file {p}: {exc}") from None
    try:
        return parse(text)
    except GenotypeError as exc:
        raise GenotypeError(f"{p}: {exc}") from None


def _validate_cell(cell: Cell, where: str, known_ops: Collection[str]) -> None:
    if cell.num_blocks < 1:
        raise GenotypeError(f"{where}.blocks: a cell needs at least one block")
    for b, block in enumerate(cell.blocks):
        num_states = NUM_INPUT_STATES + b
        for field in ("input_a", "input_b"):
            value = getattr(block, field)
            if not 0 <= value < num_states:
                raise GenotypeError(f"{where}.blocks[{b}].{field}: {value} out of range 0..{num_states - 1}")
        for field in ("op_a", "op_b"):
            op = getattr(block, field)
            if op not in known_ops:
                raise GenotypeError(f"{where}.blocks[{b}].{field}: unknown op {shown(op)}")
        if block.combine not in COMBINES:
            raise GenotypeError(
                f"{where}.blocks[{b}].combine: {shown(block.combine)} is not one of {', '.join(COMBINES)}"
            )
    states = cell.output_states()
    if not states:
        raise GenotypeError(f"{where}.outputs: the cell has no output state")
    total = NUM_INPUT_STATES + cell.num_blocks
    for s in states:
        if not 0 <= s < total:
            raise GenotypeError(f"{where}.outputs: state {s} out of range 0..{total - 1}")
    if len(set(states)) != len(states):
        raise GenotypeError(f"{where}.outputs: repeated state in {shown(list(states))}")


def _int_field(data: Mapping[str, Any], field: str, where: str) -> int:
    value = data.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenotypeError(f"{where}.{field}: expected an integer, got {shown(value)}")
    return value


def _str_field(data: Mapping[str, Any], field: str, where: str, default: str | None = None) -> str:
    value = data.get(field, default)
    if not isinstance(value, str):
        raise GenotypeError(f"{where}.{field}: expected a string, got {shown(value)}")
    return value


def _block_from_dict(data: Any, where: str) -> Block:
    if not isinstance(data, Mapping):
        raise GenotypeError(f"{where}: expected an object")
    unknown = set(data) - {"input_a", "input_b", "op_a", "op_b", "combine"}
    if unknown:
        raise GenotypeError(f"{where}: unknown field(s) {shown(sorted(map(str, unknown)))}")
    return Block(
        input_a=_int_field(data, "input_a", where),
        input_b=_int_field(data, "input_b", where),
        op_a=_str_field(data, "op_a", where),
        op_b=_str_field(data, "op_b", where),
        combine=_str_field(data, "combine", where, default="add"),
    )


def _cell_from_dict(data: Any, where: str) -> Cell:
    if not isinstance(data, Mapping):
        raise GenotypeError(f"{where}: expected an object with 'blocks'")
    unknown = set(data) - {"blocks", "outputs"}
    if unknown:
        raise GenotypeError(f"{where}: unknown field(s) {shown(sorted(map(str, unknown)))}")
    blocks = data.get("blocks")
    if not isinstance(blocks, list):
        raise GenotypeError(f"{where}.blocks: expected a list")
    outputs = data.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list) or any(
            isinstance(s, bool) or not isinstance(s, int) for s in outputs
        ):
            raise GenotypeError(f"{where}.outputs: expected a list of integers")
        outputs = tuple(outputs)
    return Cell(
        blocks=tuple(_block_from_dict(b, f"{where}.blocks[{i}]") for i, b in enumerate(blocks)),
        outputs=outputs,
    )


def display_name(name: str, limit: int = 80) -> str:
    """A genotype's name (any user string) as printable data: line breaks, control characters, ANSI
    escapes and lone surrogates escaped, cut to ``limit`` characters. The name itself is kept as
    given (JSON escapes it on save); only what reaches a terminal or a figure is cleaned."""
    return one_line(name, limit)


def file_stem(name: str, limit: int = 60) -> str:
    """A name safe as part of a file name: letters, digits, ``.``, ``_`` and ``-`` kept, the rest ``_``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:limit].strip("._")
    return stem or "genotype"
