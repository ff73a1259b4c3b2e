"""One ask/tell interface for every searcher, with the bookkeeping they share and two optional hooks.

A searcher knows decisions, not networks: it proposes one choice index per decision of a space
(`nas.space.protocol.SearchSpace`) and learns from the reward of each child it proposed. The interface
follows Optuna's samplers and Ray Tune's ``Searcher``: a narrow abstract base, a keyword-only
``seed``, host-side trial ids, and results told back in any order because children finish
asynchronously (NASNet trained 450 children at once; Zoph et al. 2018, Sec. 4).

Hooks a searcher may override instead of being type-checked by its callers:
`Searcher.path_sampler` -- which architectures train the shared weights of a supernet (uniform by
default; ENAS's controller samples its policy), `Searcher.run_options` -- what it keeps in a run
folder (TPE's Optuna study), and `Searcher.ask_with` -- propose given choices next (a warm start). Searchers register themselves with `register_searcher` where they are
defined; this module names none of them.

Unlike Ray Tune's ``save``/``restore`` the state is plain JSON data, never a pickle, so a state file
is readable, diffable and safe to load. Importing this module loads neither torch nor optuna.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, get_args

from nas.errors import ConfigError, NasError
from nas.registry import add
from nas.results.trial import TrialResult, TrialStatus
from nas.space.protocol import GenotypeLike, SearchSpace

if TYPE_CHECKING:
    import numpy as np

STATE_VERSION = 1


class UnknownTrialError(NasError, LookupError):
    """A result was told for a trial id that is not outstanding (never asked, or already told)."""


@dataclass(frozen=True)
class Proposal:
    """One child to train: its host-side id, one choice index per decision, and the decoded genotype."""

    trial_id: str
    choices: tuple[int, ...]
    genotype: GenotypeLike


class PathSampler(Protocol):
    """Draws architectures (choice indices) for the shared weights without asking the searcher; its
    state is JSON data, checkpointed with the supernet's so a resumed stage draws the same paths."""

    def __call__(self) -> list[int]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


def uniform_choices(rng: np.random.Generator, num_choices: Sequence[int]) -> list[int]:
    """One uniformly drawn choice index per decision."""
    return [int(rng.integers(n)) for n in num_choices]


class UniformPaths:
    """Every decision uniform and independent: the default `PathSampler` (single-path one-shot
    training, Guo et al. 2019; random search with weight sharing, Li & Talwalkar 2019)."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        import numpy as np

        self._sizes = [len(d.choices) for d in space.decisions]
        self._rng = np.random.default_rng(seed)

    def __call__(self) -> list[int]:
        return uniform_choices(self._rng, self._sizes)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self._rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        set_numpy_rng_state(self._rng, state["rng"])


def shaped_reward(result: TrialResult, *, failure_reward: float) -> float:
    """The reward to learn from: the score of a completed child (`nas.results.trial.score_of`, in
    [0, 1]), the score a ``stopped`` child reached when the scheduler stopped it, else ``failure_reward``.

    A failed or rejected child must still move a policy-gradient controller away from what it
    proposed; silently dropping it would leave the probability of a crashing architecture untouched.
    A stopped child's accuracy is that of fewer epochs, so it under-rates the cell; ASHA stops only
    children that trail their peers at that epoch, so the under-rating points the same way as its
    rank (Li et al. 2020, ASHA).
    """
    return failure_reward if result.learnable is None else result.learnable


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The ``bit_generator.state`` of ``rng`` as JSON data (Python ints are exact at any size)."""
    return dict(rng.bit_generator.state)


def set_numpy_rng_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    rng.bit_generator.state = dict(state)


class TrialLedger:
    """The bookkeeping every searcher shares: outstanding trials, what was told, the best reward.

    Several proposals may be outstanding at once and results arrive in any order; telling an id
    that was never asked, or one already told, is an `UnknownTrialError` that says which.
    """

    def __init__(self) -> None:
        self.outstanding: dict[str, tuple[int, ...]] = {}
        self.num_asked = 0
        self.counts: dict[str, int] = {status: 0 for status in get_args(TrialStatus)}
        self.best_reward: float | None = None
        self._told: set[str] = set()

    def propose(self, space: SearchSpace, trial_id: str, choices: Sequence[int]) -> Proposal:
        """Decode and record ``choices`` as outstanding under ``trial_id``."""
        key = tuple(int(c) for c in choices)
        genotype = space.decode(key)
        if trial_id in self.outstanding or trial_id in self._told:
            raise NasError(f"trial id {trial_id!r} was issued twice")
        self.outstanding[trial_id] = key
        self.num_asked += 1
        return Proposal(trial_id=trial_id, choices=key, genotype=genotype)

    def close(self, trial_id: str, result: TrialResult) -> tuple[int, ...]:
        """Mark ``trial_id`` told with ``result``; return the choices it was proposed with."""
        if trial_id not in self.outstanding:
            why = "was already told" if trial_id in self._told else "was never asked"
            raise UnknownTrialError(
                f"trial {trial_id!r} {why}; outstanding: {sorted(self.outstanding) or 'none'}"
            )
        choices = self.outstanding.pop(trial_id)
        self._told.add(trial_id)
        self.counts[result.status] += 1
        if result.ranked and (self.best_reward is None or result.reward > self.best_reward):  # type: ignore[operator]
            self.best_reward = result.reward
        return choices

    def stats(self) -> dict[str, float]:
        return {
            "num_asked": float(self.num_asked),
            "num_outstanding": float(len(self.outstanding)),
            **{f"num_{status}": float(n) for status, n in self.counts.items()},
            "best_reward": math.nan if self.best_reward is None else self.best_reward,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "outstanding": {k: list(v) for k, v in self.outstanding.items()},
            "num_asked": self.num_asked,
            "counts": dict(self.counts),
            "best_reward": self.best_reward,
            "told": sorted(self._told),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.outstanding = {str(k): tuple(int(c) for c in v) for k, v in state["outstanding"].items()}
        self.num_asked = int(state["num_asked"])
        # States saved before a status existed lack its count.
        self.counts = {status: 0 for status in get_args(TrialStatus)}
        self.counts.update({str(k): int(v) for k, v in state["counts"].items()})
        self.best_reward = state["best_reward"]
        self._told = {str(t) for t in state["told"]}


class Searcher(ABC):
    """Proposes architectures as choice indices and learns from their rewards.

    Call order, as for an Optuna sampler driven by ``study.ask``/``study.tell``:

    1. ``__init__(space, *, seed, **options)`` -- everything that defines the search, keyword-only.
    2. ``ask()`` any number of times: each returns a `Proposal` with a fresh ``trial_id``. Several
       may be outstanding at once (one per worker).
    3. ``tell(trial_id, result)`` once per proposal, in any order. Telling an id that is not
       outstanding raises `UnknownTrialError`. Failed, rejected and stopped children are told too
       (each searcher's docstring says what it learns from a stopped one).
    4. ``state_dict()`` at any point between calls; ``load_state_dict(state)`` into a fresh searcher
       built with the same arguments resumes *exactly*: the continued ask/tell sequence, RNG states
       included, is the one the uninterrupted searcher would have produced. The state is JSON data.
    5. ``stats()`` whenever a tracker wants numbers; ``close()`` when done.

    A search does not save the state after every call (it is megabytes for ``rl``): `SearcherCheckpoint`
    saves a snapshot now and then and journals the asks and tells since, and a resume loads the
    snapshot and redoes the journal through `restore_ask` and `restore_tell`.

    Subclasses keep their trial bookkeeping in ``self.ledger`` and wrap their own state with
    `_state_header`/`_load_header` so a state saved by another searcher or for another space is
    refused with a `ConfigError`.
    """

    def __init__(self, space: SearchSpace, *, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an integer, got {seed!r}")
        self.space = space
        self.seed = seed
        self.ledger = TrialLedger()

    @abstractmethod
    def ask(self) -> Proposal:
        """Propose the next child."""

    @abstractmethod
    def tell(self, trial_id: str, result: TrialResult) -> None:
        """Report the result of the child proposed as ``trial_id``."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly, as JSON-serialisable plain data."""

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict` into this freshly built searcher."""

    def stats(self) -> dict[str, float | dict[str, float]]:
        """Numbers worth tracking; subclasses add their own (e.g. the controller's entropy)."""
        return dict(self.ledger.stats())

    def path_sampler(self, seed: int) -> PathSampler:
        """Hook: the architectures that train a supernet's shared weights (ENAS's phase (a)).

        Uniform over the decisions unless a searcher has a distribution to sample without asking
        (the RL controller's policy; Pham et al. 2018). ``seed`` seeds the sampler's own stream, so the
        searcher's ask/tell sequence is the same with or without it.
        """
        return UniformPaths(self.space, seed)

    @classmethod
    def weight_sharing_options(cls, archs_per_step: int) -> dict[str, Any]:
        """Hook: constructor options for driving a supernet's search (`nas.search.weight_sharing`),
        under the user's own, given the architectures rewarded per searcher step (ENAS aggregates
        them into one controller update); none by default (the RL controller takes ENAS's CIFAR ones)."""
        return {}

    @classmethod
    def run_options(cls, run_dir: Path) -> dict[str, Any]:
        """Hook: constructor options that bind a search's searcher to its run folder ``run_dir``
        (TPE's Optuna study file); none by default. A searcher built without them keeps its whole
        history in `state_dict` (the supernet stage builds them so)."""
        return {}

    def ask_with(self, choices: Sequence[int]) -> Proposal:
        """Hook: propose ``choices`` as the next child instead of drawing one, and learn from its result
        when told like any child's: the warm start of a search with a zero-cost proxy's best cells
        (Abdelfattah et al., ICLR 2021, Sec. 5; issue 25).

        By default the choices are only recorded in the ledger, which is all a searcher that learns
        from ``tell`` alone needs (evolution adds the told cell to its population; random ignores it).
        A searcher whose learning needs more at ask time (the controller's log-probability, TPE's
        Optuna trial) overrides it. No random state is drawn, so the searcher's own stream is
        unchanged by a warm start.
        """
        return self.ledger.propose(self.space, str(self.ledger.num_asked), choices)

    def restore_ask(self, trial_id: str, choices: Sequence[int], *, given: bool = False) -> Proposal:
        """Redo a journaled ask after `load_state_dict` of an earlier snapshot; ``given``: it was an
        `ask_with` (a warm-started child), redone with the same choices.

        A searcher that resumes exactly (call order, point 4) proposes the same child again; one whose
        history lives outside its state (an Optuna storage) overrides this to only re-record it.
        """
        proposal = self.ask_with(choices) if given else self.ask()
        if (proposal.trial_id, proposal.choices) != (trial_id, tuple(choices)):
            raise ConfigError(
                f"searcher journal: ask {trial_id} was {list(choices)}, redone it is {proposal.trial_id} "
                f"{list(proposal.choices)}: the state or the searcher's options differ from the run's"
            )
        return proposal

    def restore_tell(self, trial_id: str, result: TrialResult) -> None:
        """Redo a journaled tell (or tell a leaderboard row the journal missed); see `restore_ask`."""
        self.tell(trial_id, result)

    def close(self) -> None:  # noqa: B027 -- an optional hook, a no-op unless overridden
        """Release external resources (e.g. a storage connection); the default holds none."""

    def _state_header(self) -> dict[str, Any]:
        return {
            "searcher": type(self).__name__,
            "version": STATE_VERSION,
            "decisions": [[d.name, len(d.choices)] for d in self.space.decisions],
            "ledger": self.ledger.state_dict(),
        }

    def _load_header(self, state: Mapping[str, Any]) -> None:
        """Refuse a state of another searcher, version or space; else restore the ledger from it."""
        if not isinstance(state, Mapping):
            raise ConfigError("searcher state must be a JSON object")
        expected = self._state_header()
        for key in ("searcher", "version", "decisions"):
            if state.get(key) != expected[key]:
                raise ConfigError(
                    f"searcher state: {key} is {state.get(key)!r}, this searcher needs {expected[key]!r}"
                )
        if self.ledger.num_asked:
            raise ConfigError("load_state_dict needs a freshly built searcher (this one has asked)")
        self.ledger.load_state_dict(state["ledger"])


SEARCHERS: dict[str, type[Searcher]] = {}
"""Name -> searcher class, filled by `register_searcher` where each searcher is defined (the built-in
ones in ``controllers/``); `nas.search.searcher` loads them and builds one by name."""

S = TypeVar("S", bound=type[Searcher])


def register_searcher(name: str) -> Callable[[S], S]:
    """Class decorator adding a searcher under ``name``; a name is never silently replaced."""

    return lambda cls: add(SEARCHERS, "searcher", name, cls)
