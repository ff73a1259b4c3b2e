"""The NASNet search space as a flat list of categorical decisions.

Searchers know decisions, not networks: per cell (normal, then reduce) and per block they choose
``input_a``, ``input_b``, ``op_a``, ``op_b``, ``combine`` -- 2 x 5B decisions in all, in the order
the NASNet controller emits them (Zoph et al. 2018, Fig. 3, plus the combine step). Input choices
of block b are the states 0 .. b + 1 (h_{i-2}, h_{i-1}, earlier blocks). `decode` turns one choice
index per decision into a validated `Genotype`; `encode` is its inverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
