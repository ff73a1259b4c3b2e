"""The run's pick among noisy samples (nas/results/shrinkage.py): each cell's mean shrunk towards a
ridge model of the others once the repeats measure the noise, and the plain mean when they cannot."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nas.results.duplicates import best_cell
from nas.results.row import TrialRow
from nas.results.shrinkage import shrunk_means
from nas.space.load import decision_tokens
from nas.space.nb201 import NB201_OPS, Nb201Genotype
from search_spaces.nasnet import NasnetSpace
from tests.results.test_duplicates import _row as trial_row

# Three decisions of three values, an additive truth: 0.5, plus 0.1 per decision set to its value "a".
CELLS = {"".join(c): tuple(f"d{k}={v}" for k, v in enumerate(c)) for c in itertools.product("abc", repeat=3)}


def _truth(cell: str) -> float:
    return 0.5 + 0.1 * cell.count("a")


def _noisy_samples(lucky: str, seen: float) -> dict[str, list[float]]:
    """Every cell sampled twice at its truth +- 0.03 (noise sd 0.042); ``lucky`` once, at ``seen``."""
    samples = {cell: [_truth(cell) + 0.03, _truth(cell) - 0.03] for cell in CELLS}
    samples[lucky] = [seen]
    return samples


def test_repeats_that_agree_or_too_few_leave_the_plain_means() -> None:
    agree = {cell: [_truth(cell)] * 2 for cell in CELLS}  # noiseless, or CPU common random numbers
    assert shrunk_means(agree, CELLS) == pytest.approx({cell: _truth(cell) for cell in CELLS})
    few = {"aaa": [0.8, 0.7], "bbb": [0.6, 0.5], "ccc": [0.9]}  # two degrees of freedom
    assert shrunk_means(few, CELLS) == pytest.approx({"aaa": 0.75, "bbb": 0.55, "ccc": 0.9})


def test_a_lucky_single_sample_is_shrunk_below_a_cell_its_decisions_predict_better() -> None:
    samples = _noisy_samples(lucky="aab", seen=0.82)  # truth 0.7, measured once 2.9 sd high
    plain = {cell: float(np.mean(v)) for cell, v in samples.items()}
    assert max(plain, key=plain.__getitem__) == "aab"  # the best mean is the lucky one
    shrunk = shrunk_means(samples, CELLS)
    assert max(shrunk, key=shrunk.__getitem__) == "aaa"  # the true best (0.8)
    assert 0.69 < shrunk["aab"] < 0.82  # between what the model predicts and what was seen
    # each estimate is linear in the scores: percent or fraction, the same pick
    scaled = shrunk_means({c: [100 * x for x in v] for c, v in samples.items()}, CELLS)
    assert scaled == pytest.approx({c: 100 * x for c, x in shrunk.items()})


def _nb201_row(index: int, ops: tuple[str, ...], score: float, first: int | None = None) -> TrialRow:
    return trial_row(
        index, Nb201Genotype(ops).arch, score, duplicate_of=None if first is None else str(first)
    )


def test_the_runs_best_cell_is_the_shrunk_pick_from_its_rows() -> None:
    """`best_cell` over a leaderboard: NAS-Bench-201 cells scored 0.5 + 0.01 k per conv on edge k
    (1-6), each trained twice at +- 0.02, and a cell one conv short of the best measured once above it."""

    def truth(ops: tuple[str, ...]) -> float:
        return 0.5 + sum(0.01 * k for k, op in enumerate(ops, start=1) if op.startswith("nor_conv"))

    rows: list[TrialRow] = []
    for k, ops in enumerate(itertools.islice(itertools.product(NB201_OPS[1:], repeat=6), 0, 4096, 97)):
        rows.append(_nb201_row(2 * k, ops, truth(ops) + 0.02))
        rows.append(_nb201_row(2 * k + 1, ops, truth(ops) - 0.02, first=2 * k))
    best = max(rows[::2], key=lambda r: truth(Nb201Genotype.from_dict(r.genotype).ops))
    assert best_cell(rows) == best
    ops = Nb201Genotype.from_dict(best.genotype).ops
    edge = next(k for k, op in enumerate(ops) if op.startswith("nor_conv"))
    lucky = (*ops[:edge], "skip_connect", *ops[edge + 1 :])
    assert all(r.genotype["arch"] != Nb201Genotype(lucky).arch for r in rows)
    rows.append(_nb201_row(len(rows), lucky, truth(ops) + 0.01))  # above the best's mean
    assert best_cell(rows) == best  # by the plain means it would be the lucky cell


def test_decision_tokens_are_one_per_decision_of_either_space() -> None:
    ops = ("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none")
    assert decision_tokens(Nb201Genotype(ops).to_dict()) == tuple(
        f"edge {k}={op}" for k, op in enumerate(ops)
    )
    space = NasnetSpace(num_blocks=2)
    genotype = space.decode([0] * len(space.decisions))
    assert len(decision_tokens(genotype.to_dict())) == len(space.decisions)
