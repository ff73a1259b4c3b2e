"""Optuna baselines behind the ask/tell interface: TPE and random search.

Random search is the baseline every NAS method must beat (Li & Talwalkar 2019; Yang et al. 2020,
"NAS evaluation is frustratingly hard"); TPE (Bergstra et al. 2011) is the model-based baseline.
Each decision is one categorical parameter named exactly as the space's decision
(``normal/b3/op_a``) whose values are the choice strings, so a stored study reads as architectures and
a study opened with a different op set fails Optuna's distribution check instead of silently mixing
meanings. The trial id is Optuna's trial number, and each trial also carries it as the user attribute
``trial_id`` with the child's ``status``, ``params`` and ``mult_adds``; the study's objective is named
``val_accuracy``. A search's ``optuna.db`` therefore reads in optuna-dashboard as the leaderboard does.

What a study learns from each child: a completed one is COMPLETE with its accuracy; one a scheduler
(ASHA) stopped early is PRUNED with the accuracy it reached as its intermediate value, which is how
Optuna's own pruners leave a trial (TPE ranks pruned trials below complete ones, by that value); a
failed or rejected one is FAIL, which TPE ignores.

Exact resumption. Optuna samplers hold a private RNG that is not exposed as data, so the sampler is
rebuilt before every ask with a seed derived from ``(seed, number of trials in the study)``: the next
proposal is then a pure function of the study's history. With the default in-memory storage the
history itself travels in `state_dict`; with ``storage_path`` (SQLite) it lives in the file.

Orphans. A trial asked but never told (its process died) stays RUNNING in the storage forever, and
TPE's constant liar would keep counting it. When a searcher resumes on a storage it marks every RUNNING
trial FAIL -- except the trials `load_state_dict` says are still outstanding, which are exactly the
ones whose results may yet be told. Reconciliation happens at the first ask/tell or at
`load_state_dict`, whichever comes first; hence one searcher drives a study at a time.
"""

from __future__ import annotations

import logging
import warnings
from abc import abstractmethod
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from nas.errors import ConfigError
from nas.results.trial import TrialResult
from nas.search.searcher import Proposal, Searcher, SearchSpace

logger = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)


class OptunaSearcher(Searcher):
    """An Optuna study driven through ``study.ask``/``study.tell``; subclasses pick the sampler."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        storage_path: str | Path | None = None,
        study_name: str = "nas",
    ) -> None:
        super().__init__(space, seed=seed)
        self.storage_path = storage_path
        self._distributions = {d.name: CategoricalDistribution(d.choices) for d in space.decisions}
        self._storage = (
            None if storage_path is None else RDBStorage(f"sqlite:///{Path(storage_path).resolve()}")
        )
        self.study = optuna.create_study(
            storage=self._storage,
            study_name=study_name,
            direction="maximize",
            load_if_exists=True,
            sampler=self._make_sampler(seed),
        )
        with warnings.catch_warnings():  # experimental since Optuna 3.2, unchanged since
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.study.set_metric_names(["val_accuracy"])
        self._asked: dict[int, optuna.trial.Trial] = {}  # number -> handle, to report a pruned value
        self._reconciled = False

    @abstractmethod
    def _make_sampler(self, seed: int) -> BaseSampler:
        """A fresh sampler seeded with ``seed`` (rebuilt before every ask, see `_reseed`)."""

    def _reseed(self) -> None:
        n = len(self.study.get_trials(deepcopy=False))
        derived = int(np.random.SeedSequence([self.seed, n]).generate_state(1)[0])
        self.study.sampler = self._make_sampler(derived)

    def _reconcile(self, keep: Collection[int] = ()) -> None:
        """Fail the RUNNING trials no one will tell (see the module docstring)."""
        if self._reconciled:
            return
        self._reconciled = True
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.number not in keep:
                logger.warning("trial %d was never told (orphaned); marking it FAIL", trial.number)
                self.study.tell(trial.number, state=TrialState.FAIL)

    def ask(self) -> Proposal:
        self._reconcile()
        self._reseed()
        trial = self.study.ask()
        choices = [
            d.choices.index(trial.suggest_categorical(d.name, d.choices)) for d in self.space.decisions
        ]
        trial.set_user_attr("trial_id", str(trial.number))
        self._asked[trial.number] = trial
        return self.ledger.propose(self.space, str(trial.number), choices)

    def tell(self, trial_id: str, result: TrialResult) -> None:
        self._reconcile()
        self.ledger.close(trial_id, result)
        number = int(trial_id)
        trial = self._asked.pop(number, None) or self._handle(number)
        trial.set_user_attr("status", result.status)
        for key in ("params", "mult_adds"):
            if getattr(result, key) is not None:
                trial.set_user_attr(key, getattr(result, key))
        if result.status == "completed":
            self.study.tell(number, result.reward)
        elif result.status == "stopped":
            if result.reward is not None:
                trial.report(result.reward, step=0)
            self.study.tell(number, state=TrialState.PRUNED)
        else:
            self.study.tell(number, state=TrialState.FAIL)

    def _handle(self, number: int) -> optuna.trial.Trial:
        """A writable handle on trial ``number`` asked before a resume (Optuna has no public lookup)."""
        frozen = self.study.get_trials(deepcopy=False)[number]
        return optuna.trial.Trial(self.study, frozen._trial_id)

    def stats(self) -> dict[str, float | dict[str, float]]:
        return {**super().stats(), "study_trials": float(len(self.study.get_trials(deepcopy=False)))}

    def state_dict(self) -> dict[str, Any]:
        state = self._state_header()
        if self.storage_path is None:
            state["trials"] = [
                {"state": t.state.name, "value": t.value, "params": t.params}
                for t in self.study.get_trials(deepcopy=False)
            ]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        if self.storage_path is None:
            if self.study.get_trials(deepcopy=False):
                raise ConfigError("load_state_dict needs a freshly built searcher (its study has trials)")
            for trial in state["trials"]:
                self.study.add_trial(
                    optuna.trial.create_trial(
                        state=TrialState[trial["state"]],
                        value=trial["value"],
                        params=trial["params"],
                        distributions={name: self._distributions[name] for name in trial["params"]},
                    )
                )
        self._reconcile(keep={int(t) for t in self.ledger.outstanding})

    def close(self) -> None:
        if self._storage is not None:
            self._storage.remove_session()
            self._storage.engine.dispose()


class TPESearcher(OptunaSearcher):
    """Multivariate TPE with the constant liar, so outstanding asks are not re-proposed.

    ``n_startup_trials`` random trials come first: 4 by default (Optuna's is 10), so 12 of the main
    job's 16 children are proposed by TPE's model rather than at random.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        storage_path: str | Path | None = None,
        study_name: str = "nas",
        n_startup_trials: int = 4,
    ) -> None:
        if n_startup_trials < 0:
            raise ConfigError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        self.n_startup_trials = n_startup_trials
        super().__init__(space, seed=seed, storage_path=storage_path, study_name=study_name)

    def _make_sampler(self, seed: int) -> BaseSampler:
        return TPESampler(
            seed=seed, n_startup_trials=self.n_startup_trials, multivariate=True, constant_liar=True
        )


class RandomSearcher(OptunaSearcher):
    """Uniform random search over every decision."""

    def _make_sampler(self, seed: int) -> BaseSampler:
        return RandomSampler(seed=seed)
