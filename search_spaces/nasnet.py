"""The NASNet search space as a flat list of categorical decisions.

Searchers know decisions, not networks: per cell (normal, then reduce) and per block they choose
``input_a``, ``input_b``, ``op_a``, ``op_b``, ``combine`` -- 2 x 5B decisions in all, in the order
the NASNet controller emits them (Zoph et al. 2018, Fig. 3, plus the combine step). Input choices
of block b are the states 0 .. b + 1 (h_{i-2}, h_{i-1}, earlier blocks). `decode` turns one choice
index per decision into a validated `Genotype`; `encode` is its inverse, and `canonical` names the
network a genotype builds, so that two genotypes of one network compare equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError, GenotypeError
from nas.space.genotype import COMBINES, NUM_INPUT_STATES, Block, Cell, Genotype

CELL_NAMES = ("normal", "reduce")
BLOCK_FIELDS = ("input_a", "input_b", "op_a", "op_b", "combine")


@dataclass(frozen=True)
class Decision:
    """One categorical decision; ``name`` is stable and hierarchical, e.g. ``normal/b3/op_a``."""

    name: str
    choices: tuple[str, ...]

    @property
    def kind(self) -> str:
        """The block field this decision sets: input_a, input_b, op_a, op_b or combine."""
        return self.name.rsplit("/", 1)[1]


@dataclass(frozen=True)
class NasnetSpace:
    """B blocks per cell over ``ops``, combined by ``combines``."""

    num_blocks: int = 5
    ops: tuple[str, ...] = ()
    combines: tuple[str, ...] = COMBINES

    def __post_init__(self) -> None:
        from nas.ops.primitives import (
            OPS,  # deferred: searchers that only read decisions need not load torch ops
            SEARCH_OPS,
        )

        if self.num_blocks < 1:
            raise ConfigError(f"num_blocks must be >= 1, got {self.num_blocks}")
        if not self.ops:
            object.__setattr__(self, "ops", SEARCH_OPS)
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise ConfigError(f"unknown op(s) {unknown}; known ops: {', '.join(sorted(OPS))}")
        bad = [c for c in self.combines if c not in COMBINES]
        if bad or not self.combines:
            raise ConfigError(f"combines must be a non-empty subset of {COMBINES}, got {self.combines}")

    @property
    def name(self) -> str:
        return "nasnet"

    @property
    def decisions(self) -> tuple[Decision, ...]:
        out: list[Decision] = []
        for cell in CELL_NAMES:
            for b in range(self.num_blocks):
                inputs = tuple(str(i) for i in range(NUM_INPUT_STATES + b))
                prefix = f"{cell}/b{b}"
                out += [
                    Decision(f"{prefix}/input_a", inputs),
                    Decision(f"{prefix}/input_b", inputs),
                    Decision(f"{prefix}/op_a", self.ops),
                    Decision(f"{prefix}/op_b", self.ops),
                    Decision(f"{prefix}/combine", self.combines),
                ]
        return tuple(out)

    def decode(self, choices: Sequence[int]) -> Genotype:
        """Map one choice index per decision (in `decisions` order) to a genotype."""
        decisions = self.decisions
        if len(choices) != len(decisions):
            raise GenotypeError(f"expected {len(decisions)} choices, got {len(choices)}")
        values: list[str] = []
        for decision, choice in zip(decisions, choices, strict=True):
            if not 0 <= int(choice) < len(decision.choices):
                raise GenotypeError(f"{decision.name}: choice {choice} out of range")
            values.append(decision.choices[int(choice)])
        cells: list[Cell] = []
        per_cell = len(BLOCK_FIELDS) * self.num_blocks
        for c in range(len(CELL_NAMES)):
            chunk = values[c * per_cell : (c + 1) * per_cell]
            blocks = tuple(
                Block(
                    input_a=int(chunk[i]),
                    input_b=int(chunk[i + 1]),
                    op_a=chunk[i + 2],
                    op_b=chunk[i + 3],
                    combine=chunk[i + 4],
                )
                for i in range(0, per_cell, len(BLOCK_FIELDS))
            )
            cells.append(Cell(blocks=blocks))
        genotype = Genotype(normal=cells[0], reduce=cells[1])
        genotype.validate()
        return genotype

    def encode(self, genotype: Genotype) -> list[int]:
        """The choice indices that `decode` maps back to ``genotype`` (explicit outputs are dropped)."""
        if genotype.num_blocks != self.num_blocks:
            raise GenotypeError(f"genotype has B={genotype.num_blocks}, the space B={self.num_blocks}")
        out: list[int] = []
        decisions = iter(self.decisions)
        for _, cell in genotype.cells():
            for block in cell.blocks:
                for field in BLOCK_FIELDS:
                    decision = next(decisions)
                    value = str(getattr(block, field))
                    if value not in decision.choices:
                        raise GenotypeError(f"{decision.name}: {value!r} is not in this space")
                    out.append(decision.choices.index(value))
        return out

    def genotype_from_json(self, data: str | Mapping[str, Any]) -> Genotype:
        """A genotype from its JSON text or data, validated (`Genotype.from_json`)."""
        return Genotype.from_json(data) if isinstance(data, str) else Genotype.from_dict(data)

    def canonical(self, genotype: Genotype) -> str:
        """One string per network: equal for genotypes that build the same cells (see `canonical_cell`)."""
        return json.dumps(
            {name: canonical_cell(cell) for name, cell in genotype.cells()}, separators=(",", ":")
        )


SYMMETRIC_COMBINES = frozenset({"add", "concat"})
"""Combines whose two (input, op) branches may be swapped. ``add`` is commutative. ``concat`` is
followed by a 1x1 convolution + BN (`nas.model.cell._Combine`): swapping the branches permutes the
convolution's input channels, so both orders span the same functions at the same shape and cost and
differ only in how the weights are laid out; a search that treats them as one cell loses nothing."""


def canonical_cell(cell: Cell) -> list[Any]:
    """A cell as data in which equal networks are equal lists.

    Folded: (1) blocks whose output reaches no output state (only a cell with explicit ``outputs``
    has them: otherwise every unconsumed block is concatenated into the output, `Cell.output_states`);
    (2) the order of the two branches of a symmetric combine; (3) the order of the blocks, renumbered
    in a topological order sorted by each block's expression; (4) the order of the output states (the
    concatenation's channel order, which the next cell's 1x1 preprocessing absorbs the same way).
    """
    outputs = cell.output_states()
    live: set[int] = set()
    todo = [s for s in outputs if s >= NUM_INPUT_STATES]
    while todo:
        state = todo.pop()
        if state not in live:
            live.add(state)
            block = cell.blocks[state - NUM_INPUT_STATES]
            todo += [s for s in (block.input_a, block.input_b) if s >= NUM_INPUT_STATES]
    expression: dict[int, str] = {s: f"h{s}" for s in range(NUM_INPUT_STATES)}
    depth: dict[int, int] = dict.fromkeys(range(NUM_INPUT_STATES), 0)
    for state in sorted(live):  # inputs precede their block, so one pass in index order suffices
        block = cell.blocks[state - NUM_INPUT_STATES]
        branches = [
            f"{block.op_a}({expression[block.input_a]})",
            f"{block.op_b}({expression[block.input_b]})",
        ]
        if block.combine in SYMMETRIC_COMBINES:
            branches.sort()
        expression[state] = f"{block.combine}[{','.join(branches)}]"
        depth[state] = 1 + max(depth[block.input_a], depth[block.input_b])
    order = sorted(live, key=lambda s: (depth[s], expression[s]))
    renumber = {s: s for s in range(NUM_INPUT_STATES)} | {
        old: NUM_INPUT_STATES + new for new, old in enumerate(order)
    }
    blocks: list[list[Any]] = []
    for state in order:
        block = cell.blocks[state - NUM_INPUT_STATES]
        pairs = [(renumber[block.input_a], block.op_a), (renumber[block.input_b], block.op_b)]
        if block.combine in SYMMETRIC_COMBINES:
            pairs.sort()
        blocks.append([*(list(p) for p in pairs), block.combine])
    return [blocks, sorted(renumber[s] for s in outputs)]
