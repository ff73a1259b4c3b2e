"""Random search: every decision drawn uniformly and independently, the baseline every NAS method
must beat at the same budget (Li & Talwalkar 2019; Yang et al. 2020, "NAS evaluation is frustratingly
hard").

It is a numpy generator and the ledger, nothing else: a proposal costs microseconds and the state is
the generator's and the ledger's, whatever the number of children. It keeps no Optuna study: a study
commits once per decision (~0.2-1 s per child on this project's disk, `bench/driver_scale.py`), hours
of driver time at NASNet's 20,000 children for nothing a random search uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

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


@register_searcher("random")
class RandomSearcher(Searcher):
    """Uniform random search over every decision of the space."""

    def __init__(self, space: SearchSpace, *, seed: int) -> None:
        super().__init__(space, seed=seed)
        self._num_choices = [len(d.choices) for d in space.decisions]
        self._rng = np.random.default_rng(seed)

    def ask(self) -> Proposal:
        choices = uniform_choices(self._rng, self._num_choices)
        return self.ledger.propose(self.space, str(self.ledger.num_asked), choices)

    def tell(self, trial_id: str, result: TrialResult) -> None:
        self.ledger.close(trial_id, result)

    def state_dict(self) -> dict[str, Any]:
        return {**self._state_header(), "rng": numpy_rng_state(self._rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        set_numpy_rng_state(self._rng, state["rng"])
