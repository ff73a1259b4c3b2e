"""One ask/tell interface for every searcher, and the registry that builds them by name.

A searcher knows decisions, not networks: it proposes one choice index per decision of a space
(`search_spaces.nasnet.NasnetSpace.decisions`) and learns from the reward of each child it
proposed. The interface follows Optuna's samplers and Ray Tune's ``Searcher``: a narrow abstract
base, a keyword-only ``seed``, host-side trial ids, and results told back in any order because
children finish asynchronously (NASNet trained 450 children at once; Zoph et al. 2018, Sec. 4).

Unlike Ray Tune's ``save``/``restore`` this state is plain JSON data, never a pickle, so a state file
is readable, diffable and safe to load. The registry resolves the built-in searchers lazily by
module path: ``import nas.search.searcher`` loads neither torch nor optuna.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, get_args, get_type_hints

from nas.errors import ConfigError, NasError
from nas.registry import add
from nas.results.run_folder import append_jsonl, read_json, read_jsonl, sync_file, write_json
from nas.results.trial import TrialResult, TrialStatus
from nas.space.genotype import Genotype

if TYPE_CHECKING:
    import numpy as np

STATE_VERSION = 1


class UnknownTrialError(NasError, LookupError):
    """A result was told for a trial id that is not outstanding (never asked, or already told)."""


@dataclass(frozen=True)
class Proposal:
    """One child to train: its host-side id, one choice index per decision, and the decoded cells."""

    trial_id: str
    choices: tuple[int, ...]
    genotype: Genotype


class DecisionLike(Protocol):
    """What a searcher reads of a decision (`search_spaces.nasnet.Decision` satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def choices(self) -> tuple[str, ...]: ...

    @property
    def kind(self) -> str: ...


class SearchSpace(Protocol):
    """What a searcher reads of a space (`search_spaces.nasnet.NasnetSpace` satisfies it)."""

    @property
    def decisions(self) -> tuple[DecisionLike, ...]: ...

    def decode(self, choices: Sequence[int]) -> Genotype: ...


def shaped_reward(result: TrialResult, *, failure_reward: float) -> float:
    """The reward to learn from: the accuracy of a completed child, the accuracy a ``stopped`` child
    reached when the scheduler stopped it, else ``failure_reward``.

    A failed or rejected child must still move a policy-gradient controller away from what it
    proposed; silently dropping it would leave the probability of a crashing architecture untouched.
    A stopped child's accuracy is that of fewer epochs, so it under-rates the cell; ASHA stops only
    children that trail their peers at that epoch, so the under-rating points the same way as its
    rank (Li et al. 2020, ASHA).
    """
    if result.status in ("completed", "stopped") and result.reward is not None:
        return result.reward
    return failure_reward


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
        reward = result.reward if result.status == "completed" else None
        if reward is not None and (self.best_reward is None or reward > self.best_reward):
            self.best_reward = reward
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

    def restore_ask(self, trial_id: str, choices: Sequence[int]) -> Proposal:
        """Redo a journaled ask after `load_state_dict` of an earlier snapshot.

        A searcher that resumes exactly (call order, point 4) proposes the same child again; one whose
        history lives outside its state (an Optuna storage) overrides this to only re-record it.
        """
        proposal = self.ask()
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


class SearcherCheckpoint:
    """A searcher's state on disk: a snapshot every ``every_tells`` tells or ``every_s`` seconds, and a
    journal of the asks and tells since it, so a search's cost per child stays flat (issue 14).

    Every event has a sequence number and the snapshot records the first one it does not contain, so
    a kill between writing a snapshot and emptying the journal replays nothing twice. Asks are fsynced
    before the child is handed out (a child that may run is never forgotten); tells are flushed and
    made durable by the next ask's or snapshot's fsync of the same file -- a tell the journal lost is
    still in ``trials.jsonl``, whence `nas.search.tune_adapter.replay_told` tells it again. A torn last
    journal line is skipped: it was an ask whose child never started, or such a tell.
    """

    def __init__(
        self,
        state: Path,
        journal: Path,
        *,
        every_tells: int = 100,
        every_s: float = 60.0,
        also_sync: Sequence[Path] = (),
    ) -> None:
        if every_tells < 1 or every_s <= 0:
            raise ConfigError(f"snapshot every {every_tells} tells / {every_s} s: both must be positive")
        self.state = state
        self.journal = journal
        self.every_tells = every_tells
        self.every_s = every_s
        self.also_sync = tuple(also_sync)  # files appended without fsync, made durable with each snapshot
        self.seq = 0  # the next event's sequence number
        self._tells_since = 0
        self._snapshot_at = time.monotonic()

    def restore(self, searcher: Searcher) -> int:
        """Load the snapshot (if any) into the fresh ``searcher`` and redo the journal; return the
        number of journal events redone."""
        start = 0
        if self.state.exists():
            state = read_json(self.state)
            start = int(state.get("journal_seq", 0))
            searcher.load_state_dict(state)
        self.seq = start
        redone = 0
        for event in read_jsonl(self.journal):
            seq = int(event["seq"])
            if seq < start:
                continue  # already in the snapshot (a kill fell between the snapshot and the truncation)
            if seq != self.seq:
                raise ConfigError(
                    f"{self.journal}: event {seq} follows {self.seq - 1}; the journal has a gap"
                )
            if "ask" in event:
                searcher.restore_ask(str(event["ask"]), [int(c) for c in event["choices"]])
            else:
                searcher.restore_tell(str(event["tell"]), TrialResult(**event["result"]))
            self.seq += 1
            redone += 1
        return redone

    def asked(self, proposal: Proposal) -> None:
        self._append({"ask": proposal.trial_id, "choices": list(proposal.choices)}, sync=True)

    def told(self, searcher: Searcher, trial_id: str, result: TrialResult) -> None:
        """Journal a tell just made to ``searcher``; snapshot it if one is due."""
        self._append({"tell": trial_id, "result": dataclasses.asdict(result)}, sync=False)
        self._tells_since += 1
        due = time.monotonic() - self._snapshot_at >= self.every_s
        if self._tells_since >= self.every_tells or due:
            self.snapshot(searcher)

    def snapshot(self, searcher: Searcher) -> None:
        """Write the whole state atomically, then empty the journal (every event is in the snapshot)."""
        for path in self.also_sync:
            sync_file(path)
        write_json(self.state, {**searcher.state_dict(), "journal_seq": self.seq})
        if self.journal.exists():
            os.truncate(self.journal, 0)
        self._tells_since = 0
        self._snapshot_at = time.monotonic()

    def _append(self, event: dict[str, Any], *, sync: bool) -> None:
        append_jsonl(self.journal, {"seq": self.seq, **event}, sync=sync)
        self.seq += 1


SearcherFactory = Callable[..., Searcher]
F = TypeVar("F", bound=SearcherFactory)

SEARCHERS: dict[str, SearcherFactory | str] = {
    "rl": "controllers.rnn_reinforce:RLSearcher",
    "tpe": "controllers.optuna_searchers:TPESearcher",
    "random": "controllers.random_search:RandomSearcher",
    "evolution": "controllers.evolution:EvolutionSearcher",
}
"""Name -> factory, or ``"module:attribute"`` resolved on first use (keeps torch/optuna unloaded)."""


def register_searcher(name: str) -> Callable[[F], F]:
    """Class decorator adding a searcher under ``name``; a name is never silently replaced."""

    return lambda factory: add(SEARCHERS, "searcher", name, factory)


def _resolve(name: str) -> SearcherFactory:
    try:
        entry = SEARCHERS[name]
    except KeyError:
        raise ConfigError(f"unknown searcher {name!r}; known: {', '.join(sorted(SEARCHERS))}") from None
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        factory: SearcherFactory = getattr(importlib.import_module(module), attribute)
        SEARCHERS[name] = entry = factory
    return entry


def _options_of(factory: SearcherFactory) -> Callable[..., Any] | None:
    """A factory's ``Options`` (a dataclass its ``**options`` build, e.g. `RLConfig`), if it has one."""
    options_type: Callable[..., Any] | None = getattr(factory, "Options", None)
    return options_type


def check_searcher_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse an unknown searcher, or options its constructor does not take, with a `ConfigError`."""
    factory = _resolve(name)
    options_type = _options_of(factory)
    try:
        if options_type is not None:
            inspect.signature(options_type).bind(**options)
        else:
            inspect.signature(factory).bind(None, seed=0, **options)
    except TypeError as exc:
        raise ConfigError(f"searcher {name!r}: {exc}") from None


def searcher_option_types(name: str) -> dict[str, Any]:
    """The annotated type of each option searcher ``name`` takes (its ``Options``' or constructor's)."""
    factory = _resolve(name)
    target = _options_of(factory) or (getattr(factory, "__init__") if isinstance(factory, type) else factory)  # noqa: B009
    return get_type_hints(target)


def create_searcher(name: str, space: SearchSpace, *, seed: int, **options: Any) -> Searcher:
    """Build the searcher registered as ``name``; unknown names and options are `ConfigError`s."""
    check_searcher_options(name, options)
    return _resolve(name)(space, seed=seed, **options)
