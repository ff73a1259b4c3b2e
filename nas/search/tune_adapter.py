"""One Ray Tune ``Searcher`` for every ask/tell searcher of `nas.search.searcher`.

Tune asks for configs by its own trial ids and reports results by them; our searchers issue their own
ids (`Proposal.trial_id`). The adapter maps one to the other, as Tune's ``OptunaSearch`` maps Tune
trials to Optuna trials, and keeps the run folder's books in the one order that survives a kill:

1. an ask is journaled (fsynced) before its child is handed to Tune;
2. a finished child's `TrialRow` is appended to the leaderboard (``trials.jsonl``, the source of truth),
3. the searcher is told, the tell journaled and its stats appended (``searcher_stats.jsonl``);
   every K tells or T seconds the searcher's whole state is snapshotted (`SearcherCheckpoint`).

A resume loads the snapshot and redoes the journal, which brings the searcher to where it was after
its last journaled event. A kill between 2 and 3 leaves a child that the leaderboard has and the
searcher still holds outstanding; `replay_told` tells it from the leaderboard, so nothing is lost or
told twice. Proposals still outstanding and absent from the leaderboard were running: `pending`
reruns them (same proposal id and genotype) before the searcher is asked for new ones.

**Tell order.** By default on the CPU (``--tell-order asked``) results are told in the order their
children were asked, and ask k waits for the tells of asks 0..k-L (L = `tell_lag`, 2C - 1 for C
children at a time): the searcher's sequence of asks and tells is then the same whatever order the
children finish in, so a seeded search is reproducible with several children at a time (each child's
training is, on the CPU). A result that arrives early is written to the leaderboard at once (nothing is
lost to a kill) and told in its turn; the up to L - C asked children not yet running keep every slot
busy unless one child outlasts the next L - C. ``--tell-order arrival`` (the default with GPUs, whose
children are not bitwise reproducible anyway) tells each result as it arrives.

Every step costs the same at child 20,000 as at child 1 (issue 14): appends, never rewrites; the
best child is kept in memory; the CSV is written by `finish`, at the end of the run.

``save``/``restore`` write JSON, never a pickle: only the id map (`get_state`); the searcher's state is
the run folder's snapshot and journal. Tune still pickles the adapter itself into its experiment folder; the tracker and the listeners (the live
view) are held through `nas.tracking.base.DriverLocal`, so that copy carries neither.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher as TuneSearcher
from ray.tune.stopper import Stopper

from nas.errors import no_space
from nas.results.duplicates import CellRecord, duplicate_row, evaluated
from nas.results.row import TrialRow
from nas.results.run_folder import RunFolder, read_jsonl, write_json
from nas.results.trial import TrialStatus, duplicate_outcome
from nas.searcher.base import Proposal, Searcher
from nas.searcher.checkpoint import SearcherCheckpoint
from nas.space.protocol import GenotypeLike
from nas.tracking.base import DriverLocal, Tracker

logger = logging.getLogger(__name__)

METRIC = "score"
"""What Tune and ASHA compare children by: every report's score so far (`nas.results.trial.score_of`)."""
_LOW_ON_ROOM = 1 << 20
"""Bytes free under the run folder below which a child's death is put down to the disk (1 MiB: less
than a child's Tune files and checkpoint take)."""
ChildListener = Callable[[TrialRow], None]


class TuneSearcherAdapter(TuneSearcher):
    """Drive ``searcher`` from Tune: ``suggest`` -> ``ask`` (or a rerun), ``on_trial_complete`` -> ``tell``.

    ``budget`` is the whole search's number of children; ``done`` how many the leaderboard holds
    already, so `suggest` returns ``FINISHED`` once ``done`` + issued reaches the budget.
    ``trial_metadata`` (the child's size, the searcher, the seed) rides along in every config.
    ``searcher`` is freshly built: the adapter restores it from the run folder's snapshot and journal.
    ``snapshot_every``/``snapshot_every_s``: K and T of `SearcherCheckpoint`. ``score_by``: the
    run's ``--score``, recorded in every row (the workers compute the score itself).
    """

    def __init__(
        self,
        searcher: Searcher,
        *,
        searcher_name: str,
        run: RunFolder,
        budget: int,
        tracker: Tracker,
        listeners: Sequence[ChildListener] = (),
        trial_metadata: Mapping[str, Any] | None = None,
        snapshot_every: int = 100,
        snapshot_every_s: float = 60.0,
        stopping: Callable[[], bool] | None = None,
        max_samples: int = 1,
        warm: Sequence[Sequence[int]] = (),
        score_by: str = "val_accuracy",
        tell_lag: int | None = None,
    ) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.tell_lag = tell_lag  # None: tell on arrival; L: in ask order, at most L asked and untold
        self.score_by = score_by  # the run's --score: what each row's score was read from
        self.warm = [list(c) for c in warm]  # the first asks take these (`Searcher.ask_with`), in order
        self._stopping = DriverLocal(stopping)
        self.trial_metadata = dict(trial_metadata or {})  # in every config: W&B shows it per child
        self.inner = searcher  # not `.searcher`: Tune walks that attribute through wrapping searchers
        self.searcher_name = searcher_name
        self.run = run
        self.budget = budget
        self._tracker = DriverLocal(tracker)
        self._listeners = DriverLocal(list(listeners))
        self.checkpoint = SearcherCheckpoint(
            run.searcher_state,
            run.searcher_journal,
            every_tells=snapshot_every,
            every_s=snapshot_every_s,
            also_sync=(run.stats_jsonl,),
        )
        redone = self.checkpoint.restore(searcher)
        rows = run.trials()
        self.done = evaluated(rows)  # what the budget counts: told duplicates cost nothing
        self.rows_written = len(rows)
        # A row's index counts every stage's rows (`RunFolder.stage_folder`): the other stages' came first.
        self.other_rows = len(run.all_trials()) - len(rows) if run.stage != "search" else 0
        self.max_samples = max_samples  # trainings of one cell: 1 tells every repeat its record
        space = searcher.space
        self.cells = CellRecord.from_rows(rows, lambda g: space.canonical(space.genotype_from_json(g)))
        self.exhausted: str | None = None  # the note when the searcher proposes no new cell
        self.waiting: Proposal | None = None  # a proposal whose cell a running child is training
        told, self.pending = replay_told(searcher, rows)
        self.told_rows = self.rows_written  # every row is told now: the searcher-stats step
        # Ask order (`tell_lag`): asked and not told yet (oldest first), with the rows that arrived
        # early, and the asked children not yet handed to Tune. The reruns were asked first.
        self.untold: list[Proposal] = []
        self.arrived: dict[str, TrialRow] = {}
        self.queue: list[Proposal] = []
        self.proposals: dict[str, Proposal] = {}  # Tune trial id -> the proposal it trains, while it runs
        if tell_lag is not None:  # the reruns were asked first; one whose cell is on record is told
            self.untold, self.pending = self.pending, []
            for i, rerun in enumerate(self.untold):
                if self._trains(rerun, self.untold[:i]):
                    self.queue.append(rerun)
        logged = read_jsonl(run.stats_jsonl)
        for step in range(int(logged[-1]["step"]) + 1 if logged else 1, self.rows_written + 1):
            self._log_stats(step=step)  # the kill came between the row and its stats line
        if told or redone:
            self.checkpoint.snapshot(searcher)
        self.no_room: OSError | None = None  # a write found the disk full: the search stops (`finish`)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.tell_lag is not None:
            return self._suggest_in_order(trial_id)
        if self.no_room is not None or self.done + len(self.proposals) >= self.budget:
            return TuneSearcher.FINISHED  # type: ignore[return-value]  # Tune's sentinel string
        if self.waiting is not None:  # told once its cell's running child ends; ask nothing before
            return None
        while True:
            if self.pending:
                proposal = self.pending.pop(0)
            else:
                asked = self._ask()
                if asked is None:
                    return TuneSearcher.FINISHED  # type: ignore[return-value]
                proposal = asked
            if not self._retrains(proposal) and not self._on_record(proposal) and self._running(proposal):
                # Its cell is being trained right now: it waits for that outcome, and Tune asks again
                # (a None) after the child ends, when `on_trial_complete` has told it.
                self.waiting = proposal
                return None
            if not self._told_duplicate(proposal):
                break
            if self.no_room is not None or self._check_exhausted():
                return TuneSearcher.FINISHED  # type: ignore[return-value]
        return self._hand_to_tune(trial_id, proposal)

    def _ask(self) -> Proposal | None:
        """Ask the searcher (a warm cell while any are left) and journal the ask; None on a full disk."""
        # The ledger counts journaled asks too, so a resumed search proposes each warm cell once.
        given = self.inner.ledger.num_asked < len(self.warm)
        proposal = self.inner.ask_with(self.warm[self.inner.ledger.num_asked]) if given else self.inner.ask()
        # Journaled at once: a kill before this child ends must rerun it, never re-issue its id.
        if not self._written(functools.partial(self.checkpoint.asked, proposal, given=given)):
            return None
        return proposal

    def _hand_to_tune(self, trial_id: str, proposal: Proposal) -> dict[str, Any]:
        self.proposals[trial_id] = proposal
        return {
            **self.trial_metadata,
            "proposal_id": proposal.trial_id,
            "genotype": proposal.genotype.to_json(indent=None),
        }

    def _check_exhausted(self) -> bool:
        """Whether the searcher stopped proposing new cells (`CellRecord.exhausted`); notes it once."""
        if self.cells.exhausted and self.exhausted is None:
            ends_with = self.done + len(self.proposals) + len(self.queue)  # what was started finishes
            self.exhausted = (
                f"the searcher proposed {self.cells.consecutive} cells in a row that this run had "
                f"evaluated; the search ends with {ends_with} of {self.budget} children evaluated"
            )
            logger.warning("%s", self.exhausted)
        return self.exhausted is not None

    def _suggest_in_order(self, trial_id: str) -> dict[str, Any] | None:
        """`suggest` when results are told in ask order: the next asked child, None while the
        searcher waits for its oldest result, FINISHED once the budget is asked for."""
        self._pump()
        if self.queue:
            return self._hand_to_tune(trial_id, self.queue.pop(0))
        if self.no_room is not None or self.exhausted is not None or self._committed() >= self.budget:
            return TuneSearcher.FINISHED  # type: ignore[return-value]
        return None

    def _committed(self) -> int:
        """Children evaluated, training or asked to train: what the budget has given out."""
        return self.done + len(self.proposals) + len(self.queue)

    def _pump(self) -> None:
        """Ask and tell in the one order that ask order fixes: ask while fewer than L are untold and
        the budget has room; tell the oldest once L are untold (or no more asks will come), when its
        result is in. Ask k so always follows the tells of asks 0..k-L and nothing after them."""
        assert self.tell_lag is not None
        while self.no_room is None:
            asking = self.exhausted is None and self._committed() < self.budget
            if asking and len(self.untold) < self.tell_lag:
                self._ask_in_order()
                continue
            if not self.untold or not self._tell_oldest():
                return

    def _ask_in_order(self) -> None:
        """One ask of the searcher (journaled): a cell on record is told at once, a cell asked and
        untold is told its result in its turn, any other is queued for Tune. (Reruns after a kill are
        untold from the start, `__init__`.)"""
        proposal = self._ask()
        if proposal is None:
            return
        if self._told_duplicate(proposal):
            self._check_exhausted()
            return
        if self._trains(proposal, self.untold):
            self.queue.append(proposal)
        self.untold.append(proposal)

    def _trains(self, proposal: Proposal, older: Sequence[Proposal]) -> bool:
        """Whether a proposal is trained: its cell neither on record nor asked by an ``older`` untold
        proposal (then it is told that one's result in its turn), or it is retrained (`_retrains`)."""
        if self._retrains(proposal):
            return True
        return not self._on_record(proposal) and not self._same_cell(proposal, older)

    def _on_record(self, proposal: Proposal) -> bool:
        return self.cells.recorded(proposal.genotype.to_dict()) is not None

    def _retrains(self, proposal: Proposal) -> bool:
        """Whether a proposal is trained even if its cell was (``--retrain-duplicates``): while its
        cell's trainings, finished or under way, number fewer than ``max_samples``."""
        if self.max_samples <= 1:
            return False
        genotype = proposal.genotype.to_dict()
        key = self.cells.canonical(genotype)
        under_way = sum(self.cells.canonical(p.genotype.to_dict()) == key for p in self._in_flight())
        under_way += sum(self.cells.canonical(r.genotype) == key for r in self.arrived.values())
        return self.cells.samples(genotype) + under_way < self.max_samples

    def _in_flight(self) -> list[Proposal]:
        """Asked children not finished: queued for Tune, or running."""
        return [*self.queue, *self.proposals.values()]

    def _tell_oldest(self) -> bool:
        """Tell the oldest untold proposal if its result is in; False when it is not yet."""
        oldest = self.untold[0]
        row = self.arrived.pop(oldest.trial_id, None)
        if row is not None:
            self.untold.pop(0)
            self._written(lambda: self._tell(oldest, row))
            return True
        if any(p is oldest for p in [*self.queue, *self.proposals.values()]):
            return False  # still to train, or training
        # Its cell's child was asked earlier, so it is told and on record by now: a told duplicate
        # (or a rerun whose cell was on record when the search resumed).
        self.untold.pop(0)
        told = self._told_duplicate(oldest)
        assert told, f"proposal {oldest.trial_id}: its cell is not on record"
        return True

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        proposal = self.proposals.pop(trial_id, None)
        if proposal is None:
            logger.warning("Tune trial %s completed but was never suggested by this search", trial_id)
            return
        stopping = self._stopping.get()
        if (error and stopping is not None and stopping()) or self._out_of_room(error):
            # Ctrl-C reaches the workers too: a child that dies while the search stops died of the
            # interrupt, not of its cell (a child that ends once the disk is full: of the disk).
            # It stays outstanding, and --resume reruns it.
            logger.info("child %s ended while the search stopped; it reruns on --resume", proposal.trial_id)
            return
        if error:  # Tune passes no reason; its error.txt sits in the trial's folder
            result = {
                **(result or {}),
                "error": f"the worker of Tune trial {trial_id} died or raised; see its error.txt under {self.run.ray_dir}",
            }
        row = leaderboard_row(
            proposal,
            result or {},
            error=error,
            index=self.other_rows + self.rows_written,
            searcher=self.searcher_name,
            score_by=self.score_by,
            stage=self.run.stage,
        )
        in_order = self.tell_lag is not None
        # As written: a retrained sample names its cell's first, for the record, the tell and the views.
        written: list[TrialRow] = []
        if not self._written(
            lambda: written.append(self._write_row(row) if in_order else self._record(proposal, row))
        ):
            return
        row = written[0]
        for listener in self._listeners.get() or ():
            listener(row)
        if in_order:
            self.arrived[proposal.trial_id] = row  # told in its turn
            self._pump()
            return
        waiting, self.waiting = self.waiting, None
        if waiting is not None and not self._told_duplicate(waiting):
            self.pending.insert(0, waiting)  # its cell's child was not this one after all: train it

    def _running(self, proposal: Proposal) -> bool:
        """Whether a child of the same cell is being trained now."""
        return self._same_cell(proposal, self.proposals.values())

    def _same_cell(self, proposal: Proposal, others: Iterable[Proposal]) -> bool:
        """Whether any of ``others`` proposes the same cell (`CellRecord.canonical`)."""
        key = self.cells.canonical(proposal.genotype.to_dict())
        return any(self.cells.canonical(p.genotype.to_dict()) == key for p in others)

    def _told_duplicate(self, proposal: Proposal) -> bool:
        """A proposal whose cell this run evaluated already is answered from the record, not trained
        (`nas.results.duplicates`); True when it was (or when the disk filled while recording it)."""
        genotype = proposal.genotype.to_dict()
        recorded = self.cells.recorded(genotype)
        if recorded is None or self._retrains(proposal):  # a retrained row will name the first sample
            return False
        row = duplicate_row(recorded, trial_id=proposal.trial_id, index=self.rows_written, genotype=genotype)
        if self._written(lambda: self._record(proposal, row, duplicate=True)):
            for listener in self._listeners.get() or ():
                listener(row)
        return True

    def _record(self, proposal: Proposal, row: TrialRow, *, duplicate: bool = False) -> TrialRow:
        """Write a row and tell it; returns it as written (`_write_row`)."""
        written = self._write_row(row, duplicate=duplicate)
        self._tell(proposal, written, duplicate=duplicate)
        return written

    def _write_row(self, row: TrialRow, *, duplicate: bool = False) -> TrialRow:
        """Append a finished child's row to the leaderboard (the source of truth); returns it as
        written (a retrained cell's row names its first sample)."""
        if not duplicate and self.max_samples > 1:
            recorded = self.cells.recorded(row.genotype)
            key = self.cells.canonical(row.genotype)
            early = [r for r in self.arrived.values() if self.cells.canonical(r.genotype) == key]
            first = recorded or (early[0] if early else None)
            row = (
                row
                if first is None
                else dataclasses.replace(row, duplicate_of=first.trial_id, retrained=True)
            )
        self.run.add_trial(row)
        self.rows_written += 1
        self.done += 0 if duplicate else 1
        return row

    def _tell(self, proposal: Proposal, row: TrialRow, *, duplicate: bool = False) -> None:
        """Tell the searcher a written row, journal the tell, and log its stats."""
        self.cells.add(row)
        outcome = duplicate_outcome(row.to_trial_result()) if duplicate else row.to_trial_result()
        self.inner.tell(proposal.trial_id, outcome)
        self.checkpoint.told(self.inner, proposal.trial_id, outcome)
        self.told_rows += 1
        self._log_stats(step=self.told_rows)

    def _written(self, write: Callable[[], object]) -> bool:
        """Run ``write``; on a full disk keep its error for `finish`, and say no.

        Tune logs and swallows what a searcher raises, and would go on asking for children whose
        books cannot be kept. Every write leaves the run folder whole (an atomic replace, or an
        append whose torn last line the next append heals), and the books' order (see above) makes
        any prefix of a child's writes one that ``--resume`` completes: no child lost or run twice.
        """
        try:
            write()
        except OSError as exc:
            if no_space(exc) is None:
                raise
            self.no_room = exc
            return False
        return True

    def _out_of_room(self, error: bool) -> bool:
        """The search stops for a full disk, or this child's worker died with less than
        `_LOW_ON_ROOM` free under the run folder (its files could not be written)."""
        if self.no_room is None and error and shutil.disk_usage(self.run.path).free < _LOW_ON_ROOM:
            self.no_room = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.run.path))
        return self.no_room is not None

    def finish(self) -> None:
        """End of a run (or of an attempt): a last snapshot, and ``trials.csv`` from the leaderboard.
        After a full disk neither is written: the run stops with that error, ``--resume`` goes on."""
        if self.no_room is not None:
            raise self.no_room
        self.checkpoint.snapshot(self.inner)
        self.run.write_csv()

    def _log_stats(self, *, step: int) -> None:
        stats = self.inner.stats()
        best = stats.get("best_reward")
        record = {
            "step": step,
            "best_reward": best,
            **{k: v for k, v in stats.items() if k != "best_reward"},
        }
        self.run.append_stats(record)
        tracker = self._tracker.get()
        if tracker is not None:
            tracker.log_searcher(step, stats)

    def get_state(self) -> dict[str, Any]:
        """Tune's experiment checkpoint of this searcher: only the id map, as JSON data.

        Tune saves it at every experiment checkpoint; the searcher's own state (megabytes for ``rl``)
        is the run folder's snapshot and journal, which a resume reads instead (`nas.search.runner`).
        """
        return {
            "done": self.done,
            "proposals": {tid: _proposal_to_dict(p) for tid, p in self.proposals.items()},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.done = int(state["done"])
        self.proposals = {tid: _proposal_from_dict(self.inner, p) for tid, p in state["proposals"].items()}

    def save(self, checkpoint_path: str) -> None:
        write_json(Path(checkpoint_path), self.get_state())

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(json.loads(Path(checkpoint_path).read_text(encoding="utf-8")))


class StopWhen(Stopper):
    """A Tune ``Stopper`` that ends the whole experiment once ``should_stop()`` says so (Ctrl-C).

    Tune then stops the running children without telling the search algorithm, so their proposals
    stay outstanding in ``searcher_state.json`` and ``--resume`` reruns them, and it writes its
    snapshot. The predicate is held as a `DriverLocal`: Tune pickles the stopper with its experiment.
    """

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = DriverLocal(should_stop)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        predicate = self.should_stop.get()
        return predicate is not None and predicate()


def replay_told(searcher: Searcher, rows: Sequence[TrialRow]) -> tuple[list[TrialRow], list[Proposal]]:
    """Reconcile a restored searcher with the leaderboard: the rows told now, and the proposals to rerun.

    Outstanding proposals that the leaderboard already holds are told now (the kill fell between
    writing the row and journaling the tell); the others were running when the search stopped.
    """
    by_id = {r.trial_id: r for r in rows}
    told: list[TrialRow] = []
    rerun: list[Proposal] = []
    for trial_id, choices in sorted(searcher.ledger.outstanding.items(), key=lambda kv: _id_key(kv[0])):
        if trial_id in by_id:
            searcher.restore_tell(trial_id, by_id[trial_id].to_trial_result())
            told.append(by_id[trial_id])
        else:
            rerun.append(Proposal(trial_id, choices, searcher.space.decode(choices)))
    return told, rerun


def _id_key(trial_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order (the order they were asked), any others after them."""
    return (0, trial_id.zfill(20)) if trial_id.isdigit() else (1, trial_id)


def leaderboard_row(
    proposal: Proposal,
    result: Mapping[str, Any],
    *,
    error: bool,
    index: int,
    searcher: str,
    score_by: str = "val_accuracy",
    stage: str = "search",
) -> TrialRow:
    """The `TrialRow` of a finished child from its last report (`nas.search.runner` defines its fields).

    The accuracy is the trainer's (``best_val_accuracy``: `nas.train.trainer.ChildResult.val_accuracy`,
    also sent with every epoch's report), and so are the losses; the score (``best_score``, of
    ``score_by``) is the worker's, by `nas.results.trial.score_of`. A last report still marked
    ``running`` means the scheduler (ASHA) stopped the child early: it is ``stopped``, with the best
    accuracy and score it reached, and never ranked with completed ones (`nas.results.trial`'s rule).
    """
    status: TrialStatus
    reason: str | None = result.get("error")
    history = [float(v) for v in result.get("val_accuracy_history", [])]
    if error:
        status, reason = "failed", reason or "the child's worker died or raised"
    else:
        raw = str(result.get("status", "failed"))
        status = "stopped" if raw == "running" else raw  # type: ignore[assignment]
    if status == "stopped":
        reason = f"stopped early by the scheduler after {len(history)} epoch(s)"
    measured = status in ("completed", "stopped")
    best = result.get("best_val_accuracy") if measured else None
    return TrialRow(
        index=index,
        trial_id=proposal.trial_id,
        genotype=proposal.genotype.to_dict(),
        status=status,
        val_accuracy=best,
        val_accuracy_history=history,
        params=result.get("params"),
        mult_adds=result.get("mult_adds"),
        wall_s=result.get("wall_s"),
        images_per_s=result.get("images_per_s"),
        epochs_done=len(history),
        error=None if status == "completed" else (reason or "no result reported"),
        searcher=searcher,
        arch=proposal.genotype.to_dict().get("arch"),
        table_accuracy=result.get("table_accuracy"),
        val_loss=result.get("best_val_loss") if measured else None,
        train_loss_sum=result.get("train_loss_sum") if measured else None,
        score=result.get("best_score") if measured else None,
        score_by=score_by,
        stage=stage,
        zero_cost=result.get("zero_cost") if measured else None,
    )


def _proposal_to_dict(proposal: Proposal) -> dict[str, Any]:
    return {"trial_id": proposal.trial_id, "choices": list(proposal.choices)}


def _proposal_from_dict(searcher: Searcher, data: Mapping[str, Any]) -> Proposal:
    choices = tuple(int(c) for c in data["choices"])
    return Proposal(str(data["trial_id"]), choices, searcher.space.decode(choices))


def genotype_of(config: Mapping[str, Any]) -> GenotypeLike:
    """The genotype a suggested config carries, read by the space the config names (the trainable's
    side of `suggest`)."""
    from nas.search.searcher import build_space

    space = build_space(str(config["space"]), blocks=int(config["blocks"]))
    return space.genotype_from_json(str(config["genotype"]))
