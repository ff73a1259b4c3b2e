"""The NAS-Bench-201 search space as 6 categorical decisions, one op per edge.

Dong & Yang (ICLR 2020, Sec. 2) search a single cell: a 4-node DAG with one of 5 ops on each of its
6 edges (`nas.space.nb201`). Searchers see only the decisions (Sec. 5 runs REA, REINFORCE, random
search and BOHB on exactly this encoding), so the same searchers that drive the NASNet space drive
this one. Decisions follow the arch string's order: node 1 <- 0; node 2 <- 0, 1; node 3 <- 0, 1, 2;
each has kind ``op`` and the choices `NB201_OPS`, in the benchmark's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nas.errors import GenotypeError
from nas.space.load import genotype_from_text
from nas.space.nb201 import EDGES, NB201_OPS, SPACE_NAME, Nb201Genotype
from search_spaces.nasnet import Decision


@dataclass(frozen=True)
class Nb201Space:
    """The 5^6 = 15,625 cells of NAS-Bench-201; it has no size to choose (N and C shape the network)."""

    name: ClassVar[str] = SPACE_NAME

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(Decision(f"node{to}/in{frm}/op", NB201_OPS) for to, frm in EDGES)

    def decode(self, choices: Sequence[int]) -> Nb201Genotype:
        """The cell whose edge ``i`` (in `EDGES` order) carries ``NB201_OPS[choices[i]]``."""
        if len(choices) != len(EDGES):
            raise GenotypeError(f"expected {len(EDGES)} choices, got {len(choices)}")
        ops: list[str] = []
        for (to, frm), choice in zip(EDGES, choices, strict=True):
            if not 0 <= int(choice) < len(NB201_OPS):
                raise GenotypeError(f"edge {to}<-{frm}: choice {choice} out of range 0..{len(NB201_OPS) - 1}")
            ops.append(NB201_OPS[int(choice)])
        return Nb201Genotype(tuple(ops))

    def encode(self, genotype: Nb201Genotype) -> list[int]:
        """The choices `decode` maps back to ``genotype``."""
        if not isinstance(genotype, Nb201Genotype):
            raise GenotypeError(f"expected a NAS-Bench-201 genotype, got a {type(genotype).__name__}")
        return [NB201_OPS.index(op) for op in genotype.ops]

    def canonical(self, genotype: Nb201Genotype) -> str:
        """The arch string: the benchmark's own key, one per cell.

        Cells with different arch strings may still compute the same function (a ``none`` edge makes
        its source's other edges dead; the table's ``UniqueString`` folds those), but the benchmark
        trained each arch string as its own cell, so each is its own entry here too.
        """
        return genotype.arch

    def genotype_from_json(self, data: Mapping[str, Any] | str) -> Nb201Genotype:
        """Parsed genotype JSON, JSON text or an arch string, as a NAS-Bench-201 genotype of this space."""
        genotype = genotype_from_text(data) if isinstance(data, str) else Nb201Genotype.from_dict(data)
        if not isinstance(genotype, Nb201Genotype):
            raise GenotypeError(f"expected a {SPACE_NAME} genotype, got a NASNet-space one")
        return genotype
