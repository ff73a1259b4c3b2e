"""Regularized (aging) evolution: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (AmoebaNet), Algorithm 1, run asynchronously.

The population holds the P most recently *added* children. While it has fewer than P members, asks
are uniformly random (the initial population). After that each ask runs one tournament: sample S
members, take the best as parent, mutate exactly one of its decisions to a different value. When a
child's result arrives it joins the population and the *oldest* member dies, whatever its reward:
aging, which Real et al. show regularizes against lucky, noisily-evaluated architectures.

Asynchrony follows the paper's distributed setup: an ask uses the population as it is at that
moment, so proposals made before earlier results arrive come from a slightly older population.

Deviations, marked: Real et al.'s mutations are "hidden state" and "op" mutations (plus identity)
on a NASNet cell; here a mutation re-draws any one decision with more than one choice, which covers
both (inputs and ops are decisions) plus the combine step, and never proposes the parent unchanged.
Failed and rejected children are *discarded* -- they neither join nor age the population -- because
a zero-reward member would be a dead tournament entry that still pushes a working member out; while
failures keep the population short, asks stay random until it is full. Children a scheduler (ASHA)
stopped early are discarded too: their accuracy is that of fewer epochs, not comparable with the
members' in a tournament.

Sizes. Real et al. ran P=100, S=25 for 20,000 children. The defaults here, P=8 and S=8, are sized to
budgets of tens to hundreds: in the main job's 16 children the population is full after 8 results
and about half the children are mutants (a population of 20 would leave all 16 random). Deviation:
S = P, not Real et al.'s S = P/4: every tournament is the whole population, so the parent is the best
of the P most recent children, and aging alone regularizes; the stronger selection pays at these
budgets. Measured on the NAS-Bench-201 table (`bench/searchers.py --objective nats-bench --searchers
evolution`, seeds 0-89 and, held out, 90-269; docs/benchmarks.md): against the former S=4, the
optimum found by 300 children in 88 of 90 and 180 of 180 seeds (S=4: 85, 167), the reported cell at
100 noiseless children 94.31 and 94.32 (94.25, 94.28), and with noise of 1.0 point the reported cell
at 200 children +0.27 and +0.36 above random search's (+0.25, +0.24). Raise P with the budget
(``--searcher-option population_size=16 --searcher-option sample_size=8``: +0.33 and +0.32 there).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.errors import ConfigError, check_number
from nas.results.trial import TrialResult
from nas.searcher.base import (
    Proposal,
    Searcher,
    numpy_rng_state,
    register_searcher,
    set_numpy_rng_state,
    uniform_choices,
)
from nas.space.protocol import SearchSpace

logger = logging.getLogger(__name__)


@register_searcher("evolution")
class EvolutionSearcher(Searcher):
    """Aging evolution with population size P (``population_size``) and sample size S."""

    def __init__(
        self, space: SearchSpace, *, seed: int, population_size: int = 8, sample_size: int = 8
    ) -> None:
        super().__init__(space, seed=seed)
        check_number("evolution population_size", population_size, integer=True, low=2, high=1_000_000)
        check_number("evolution sample_size", sample_size, integer=True, low=1, high=population_size)
        self.population_size = population_size
        self.sample_size = sample_size
        self._num_choices = [len(d.choices) for d in space.decisions]
        self._mutable = [i for i, n in enumerate(self._num_choices) if n > 1]
        if not self._mutable:
            raise ConfigError("evolution needs at least one decision with two or more choices")
        self._rng = np.random.default_rng(seed)
        # Oldest first: (choices, reward) of every living member, in the order they joined.
        self._population: list[tuple[tuple[int, ...], float]] = []
        self.num_mutations = 0  # asks that mutated a tournament winner (the rest were random)

    def ask(self) -> Proposal:
        if len(self._population) < self.population_size:
            choices = uniform_choices(self._rng, self._num_choices)
        else:
            choices = self._mutate(self._tournament())
            self.num_mutations += 1
        return self.ledger.propose(self.space, str(self.ledger.num_asked), choices)

    def _tournament(self) -> tuple[int, ...]:
        """The best of S members drawn without replacement (ties go to the older member)."""
        picks = sorted(self._rng.choice(len(self._population), size=self.sample_size, replace=False))
        return max((self._population[int(i)] for i in picks), key=lambda member: member[1])[0]

    def _mutate(self, parent: tuple[int, ...]) -> list[int]:
        child = list(parent)
        i = self._mutable[int(self._rng.integers(len(self._mutable)))]
        # Draw among the other n - 1 values: skip over the parent's value so the child differs.
        new = int(self._rng.integers(self._num_choices[i] - 1))
        child[i] = new + (new >= parent[i])
        return child

    def tell(self, trial_id: str, result: TrialResult) -> None:
        choices = self.ledger.close(trial_id, result)
        if not result.ranked or result.reward is None:
            logger.debug("trial %s %s: discarded from the population", trial_id, result.status)
            return
        self._population.append((choices, result.reward))
        if len(self._population) > self.population_size:
            self._population.pop(0)  # aging: the oldest dies, not the worst

    def stats(self) -> dict[str, float | dict[str, float]]:
        rewards = [reward for _, reward in self._population]
        return {
            **super().stats(),
            "population": float(len(rewards)),
            "mutations": float(self.num_mutations),
            "population_mean_reward": float(np.mean(rewards)) if rewards else float("nan"),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._state_header(),
            "rng": numpy_rng_state(self._rng),
            "population": [[list(choices), reward] for choices, reward in self._population],
            "num_mutations": self.num_mutations,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        set_numpy_rng_state(self._rng, state["rng"])
        self._population = [(tuple(int(c) for c in choices), float(r)) for choices, r in state["population"]]
        self.num_mutations = int(state.get("num_mutations", 0))
