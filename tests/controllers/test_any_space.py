"""Every searcher on a space that is not NASNet's: 6 decisions, all of kind ``op``, 5 choices each
(the shape of NAS-Bench-201's cell), defined here so the searchers are checked against the protocol
(`nas.space.protocol.SearchSpace`) alone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nas.results.trial import TrialResult
from nas.search.searcher import create_searcher, searcher_names

OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")


@dataclass(frozen=True)
class OpDecision:
    name: str
    choices: tuple[str, ...] = OPS
    kind: str = "op"


@dataclass(frozen=True)
class OpGenotype:
    ops: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ops": list(self.ops)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


class OpSpace:
    name = "six-ops"
    decisions = tuple(OpDecision(f"edge{i}") for i in range(6))

    def decode(self, choices: Sequence[int]) -> OpGenotype:
        return OpGenotype(tuple(OPS[c] for c in choices))

    def encode(self, genotype: OpGenotype) -> list[int]:
        return [OPS.index(op) for op in genotype.ops]

    def canonical(self, genotype: OpGenotype) -> str:
        return "|".join(genotype.ops)

    def genotype_from_json(self, data: str | Mapping[str, Any]) -> OpGenotype:
        loaded = json.loads(data) if isinstance(data, str) else data
        return OpGenotype(tuple(loaded["ops"]))


@pytest.mark.parametrize("name", searcher_names())
def test_every_searcher_runs_on_an_op_only_space(name: str, tmp_path: Path) -> None:
    options: dict[str, Any] = {"batch_size": 2} if name == "rl" else {}
    space = OpSpace()
    searcher = create_searcher(name, space, seed=0, run_dir=tmp_path, **options)
    for i in range(10):
        proposal = searcher.ask()
        assert space.encode(proposal.genotype) == list(proposal.choices)  # type: ignore[arg-type]
        searcher.tell(proposal.trial_id, TrialResult("completed", 0.1 * (i % 5)))
    sampler = searcher.path_sampler(seed=1)
    assert all(0 <= c < 5 for c in sampler()) and len(sampler()) == 6
    state = json.loads(json.dumps(searcher.state_dict()))
    searcher.close()
    fresh = create_searcher(name, space, seed=0, run_dir=tmp_path, **options)
    fresh.load_state_dict(state)
    fresh.close()
