"""Optuna's TPE behind the ask/tell interface: the model-based baseline (Bergstra et al. 2011).

(Random search is `controllers.random_search`: it needs no study, see there.) The module is named
after its one searcher; another Optuna sampler is a subclass overriding `TPESearcher._make_sampler`.
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
trial FAIL -- except the trials its ledger says are still outstanding (after `load_state_dict` and the
journal's `restore_ask`/`restore_tell`), which are exactly the ones whose results may yet be told.
Reconciliation happens at the first ask or tell; hence one searcher drives a study at a time.

Cost per child (issue 14). The SQLite file runs in WAL mode with ``synchronous=NORMAL``: Optuna
commits once per parameter (50 for the NASNet space at B=5), and a full fsync per commit made random
search ~1 s per child on this project's disk; WAL commits survive a killed process and fsync at
checkpoints (a power cut may lose the last commits, which the resume then reconciles as above). The
trial count that seeds the sampler is kept, not re-counted from the storage. What is left grows with the
study in Optuna itself: TPE fits its Parzen estimators to every finished trial on each ask
(`bench/driver_scale.py` measures it; ``n_startup_trials`` and a smaller space are the knobs), and
WAL needs a local disk (not NFS) for the study file.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.distributions import CategoricalDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from nas.errors import ConfigError, NasError, check_number
from nas.results.trial import TrialResult
from nas.searcher.base import Proposal, Searcher, register_searcher
from nas.space.protocol import SearchSpace

logger = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)


@register_searcher("tpe")
class TPESearcher(Searcher):
    """An Optuna study driven through ``study.ask``/``study.tell``, sampled by multivariate TPE with
    the constant liar, so outstanding asks are not re-proposed. (Another Optuna sampler is a subclass
    overriding `_make_sampler`.)

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
        check_number("tpe n_startup_trials", n_startup_trials, integer=True, low=0, high=1_000_000)
        self.n_startup_trials = n_startup_trials
        super().__init__(space, seed=seed)
        self.storage_path = storage_path
        self._distributions = {d.name: CategoricalDistribution(d.choices) for d in space.decisions}
        self._storage = None if storage_path is None else _sqlite_storage(Path(storage_path))
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
        self._num_trials: int | None = None  # trials in the study, counted once then kept

    @classmethod
    def run_options(cls, run_dir: Path) -> dict[str, Any]:
        """A search keeps its study in the run folder's ``optuna.db`` (optuna-dashboard reads it)."""
        return {"storage_path": run_dir / "optuna.db"}

    def _make_sampler(self, seed: int) -> BaseSampler:
        """A fresh sampler seeded with ``seed`` (rebuilt before every ask, see `_reseed`)."""
        return TPESampler(
            seed=seed, n_startup_trials=self.n_startup_trials, multivariate=True, constant_liar=True
        )

    def _study_size(self) -> int:
        """Trials in the study (every ask adds one): counted from the storage once, then kept."""
        if self._num_trials is None:
            self._num_trials = len(self.study.get_trials(deepcopy=False))
        return self._num_trials

    def _reseed(self) -> None:
        derived = int(np.random.SeedSequence([self.seed, self._study_size()]).generate_state(1)[0])
        self.study.sampler = self._make_sampler(derived)

    def _reconcile(self) -> None:
        """Fail the RUNNING trials no one will tell (see the module docstring)."""
        if self._reconciled:
            return
        self._reconciled = True
        keep = {int(t) for t in self.ledger.outstanding}
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.number not in keep:
                logger.warning("trial %d was never told (orphaned); marking it FAIL", trial.number)
                self.study.tell(trial.number, state=TrialState.FAIL)

    def ask(self) -> Proposal:
        self._reconcile()
        self._reseed()
        trial = self.study.ask()
        self._num_trials = trial.number + 1
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
        if result.ranked:
            self.study.tell(number, result.reward)
        elif result.learnable is not None:  # stopped by the scheduler: PRUNED at the accuracy reached
            trial.report(result.learnable, step=0)
            self.study.tell(number, state=TrialState.PRUNED)
        elif result.status == "stopped":
            self.study.tell(number, state=TrialState.PRUNED)
        else:
            self.study.tell(number, state=TrialState.FAIL)

    def _handle(self, number: int) -> optuna.trial.Trial:
        """A writable handle on trial ``number`` asked before a resume (Optuna has no public lookup)."""
        frozen = self.study.get_trials(deepcopy=False)[number]
        return optuna.trial.Trial(self.study, frozen._trial_id)

    def ask_with(self, choices: Sequence[int]) -> Proposal:
        """Propose given ``choices`` (a warm start) through Optuna's ``study.enqueue_trial``: the next
        trial takes them, and its told value joins the history TPE models (it counts toward
        ``n_startup_trials`` like a random start-up trial)."""
        key = [int(c) for c in choices]
        self.study.enqueue_trial(
            {d.name: d.choices[c] for d, c in zip(self.space.decisions, key, strict=True)},
            skip_if_exists=False,
        )
        proposal = self.ask()
        if list(proposal.choices) != key:  # Optuna's contract; a silent mismatch would mislabel a child
            raise NasError(f"tpe: enqueued {key}, Optuna proposed {list(proposal.choices)}")
        return proposal

    def restore_ask(self, trial_id: str, choices: Sequence[int], *, given: bool = False) -> Proposal:
        """A storage already holds the journaled trial: record it as outstanding, ask nothing."""
        if self._storage is None:
            return super().restore_ask(trial_id, choices, given=given)
        self._num_trials = None  # the storage is ahead of the snapshot: count again at the next ask
        return self.ledger.propose(self.space, trial_id, choices)

    def restore_tell(self, trial_id: str, result: TrialResult) -> None:
        """Tell the storage only if it has not finished the trial (the kill may have come after it did)."""
        if self._storage is None:
            return super().restore_tell(trial_id, result)
        study_id = self._storage.get_study_id_from_name(self.study.study_name)
        number = self._storage.get_trial_id_from_study_id_trial_number(study_id, int(trial_id))
        if self._storage.get_trial(number).state.is_finished():
            self.ledger.close(trial_id, result)
        else:
            self.tell(trial_id, result)

    def stats(self) -> dict[str, float | dict[str, float]]:
        return {**super().stats(), "study_trials": float(self._study_size())}

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

    def close(self) -> None:
        if self._storage is not None:
            self._storage.remove_session()
            self._storage.engine.dispose()


def _sqlite_storage(path: Path) -> RDBStorage:
    """Optuna's SQLite storage in WAL mode with ``synchronous=NORMAL`` (see the module docstring)."""

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage = RDBStorage(f"sqlite:///{path.resolve()}")
    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # the connections opened while creating the schema had no pragmas
    return storage
