"""`Searcher.ask_with`, the warm start's hook (issue 25), over every registered searcher, and what
each one learns from a given child."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.results.trial import TrialResult
from nas.searcher.checkpoint import SearcherCheckpoint
from tests.controllers.test_searchers import CASES, SMALL, agreement, drive, hidden_target, make


def warm_cells(n: int) -> list[list[int]]:
    rng = np.random.default_rng(7)
    return [[int(rng.integers(len(d.choices))) for d in SMALL.decisions] for _ in range(n)]


@pytest.mark.parametrize("case", CASES)
def test_given_choices_are_proposed_then_the_search_goes_on(case: str) -> None:
    searcher = make(case)
    cells = warm_cells(3)
    given = [searcher.ask_with(c) for c in cells]
    assert [list(p.choices) for p in given] == cells
    assert [p.genotype for p in given] == [SMALL.decode(c) for c in cells]
    reward = agreement(hidden_target(SMALL, 0))
    for p in given:
        searcher.tell(p.trial_id, reward(p))
    later = [searcher.ask() for _ in range(10)]
    ids = [p.trial_id for p in given + later]
    assert len(set(ids)) == len(ids)
    assert searcher.stats()["num_completed"] == 3


@pytest.mark.parametrize("case", CASES)
def test_a_journaled_given_ask_resumes_exactly(case: str) -> None:
    """A snapshot, then warm asks journaled as ``given``: redone after a kill, the search continues as
    the uninterrupted one does (`SearcherCheckpoint` replays them through ``restore_ask``)."""
    reward = agreement(hidden_target(SMALL, 0))
    original = make(case, seed=3)
    state = json.loads(json.dumps(original.state_dict()))
    cells = warm_cells(5)
    given = [original.ask_with(c) for c in cells]
    for p in given[:3]:
        original.tell(p.trial_id, reward(p))

    resumed = make(case, seed=3)
    resumed.load_state_dict(state)
    for p in given:
        resumed.restore_ask(p.trial_id, p.choices, given=True)
    for p in given[:3]:
        resumed.restore_tell(p.trial_id, reward(p))
    outstanding = given[3:]
    assert drive(resumed, 12, reward, list(outstanding)) == drive(original, 12, reward, list(outstanding))


def test_rl_learns_from_given_children() -> None:
    """REINFORCE on the given choices' log-probability: told a high reward for one warm cell and a low
    one for another, the controller makes the first more likely than the second."""
    searcher = make("rl", batch_size=4, lr=0.05)
    good, bad = warm_cells(2)

    def log_prob(choices: list[int]) -> float:
        with torch.no_grad():
            return float(searcher.policy.rollout(1, actions=torch.tensor([choices])).log_prob[0])

    before = log_prob(good) - log_prob(bad)
    for _ in range(5):
        for cells, reward in ((good, 0.9), (bad, 0.1)):
            for _ in range(2):
                p = searcher.ask_with(cells)
                searcher.tell(p.trial_id, TrialResult("completed", reward))
    assert searcher.stats()["updates"] == 5
    assert log_prob(good) - log_prob(bad) > before + 1.0


def test_rl_fits_its_policy_towards_a_given_cell_before_any_result() -> None:
    """The warm start's behaviour cloning: asking with a cell makes the controller more likely to
    sample it, before its result is told, and draws nothing from the sampling generator."""
    searcher = make("rl")
    (cell,) = warm_cells(1)
    actions = torch.tensor([cell])
    with torch.no_grad():
        before = float(searcher.policy.rollout(1, actions=actions).log_prob[0])
    generator = searcher._generator.get_state()  # type: ignore[attr-defined]
    searcher.ask_with(cell)
    with torch.no_grad():
        after = float(searcher.policy.rollout(1, actions=actions).log_prob[0])
    assert after > before + 1.0
    assert torch.equal(searcher._generator.get_state(), generator)  # type: ignore[attr-defined]


def test_evolution_takes_given_children_into_its_population() -> None:
    searcher = make("evolution")
    cells = warm_cells(6)
    for i, cells_i in enumerate(cells):
        p = searcher.ask_with(cells_i)
        searcher.tell(p.trial_id, TrialResult("completed", i / 10))
    assert searcher.stats()["population"] == 6
    # The population is full of warm cells: the next ask mutates one of them (one decision differs).
    child = searcher.ask().choices
    assert min(int(np.sum(np.asarray(child) != np.asarray(c))) for c in cells) == 1


def test_tpe_records_given_children_as_its_trials() -> None:
    searcher = make("tpe")
    cells = warm_cells(3)
    for c in cells:
        p = searcher.ask_with(c)
        searcher.tell(p.trial_id, TrialResult("completed", 0.5))
    trials = searcher.study.get_trials()  # type: ignore[attr-defined]
    assert [[d.choices.index(t.params[d.name]) for d in SMALL.decisions] for t in trials] == cells


@pytest.mark.parametrize("case", ["rl", "evolution"])
def test_the_journal_redoes_given_asks_as_given(case: str, tmp_path: Path) -> None:
    """`SearcherCheckpoint` journals a warm ask as ``given`` and redoes it with `Searcher.ask_with`, so
    a searcher resumed from snapshot + journal is the one never stopped (a plain redo would draw)."""
    checkpoint = SearcherCheckpoint(tmp_path / "state.json", tmp_path / "journal.jsonl", every_tells=100)
    unbroken = make(case)
    checkpoint.snapshot(unbroken)
    for i, cells in enumerate(warm_cells(3)):
        proposal = unbroken.ask_with(cells)
        checkpoint.asked(proposal, given=True)
        result = TrialResult("completed", i / 5)
        unbroken.tell(proposal.trial_id, result)
        checkpoint.told(unbroken, proposal.trial_id, result)
    proposal = unbroken.ask()
    checkpoint.asked(proposal)
    resumed = make(case)
    assert SearcherCheckpoint(checkpoint.state, checkpoint.journal).restore(resumed) == 7
    assert json.dumps(resumed.state_dict()) == json.dumps(unbroken.state_dict())
    assert resumed.ask() == unbroken.ask()
