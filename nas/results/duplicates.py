"""No child trained twice: the record of which cells a run has evaluated, by canonical form.

A searcher may propose a cell it proposed before (the issue-23 measurement: the RL controller spent
112 of 300 NAS-Bench-201 children on cells already seen); in a real search each repeat is a full
training. `CellRecord` maps a cell's canonical form (`nas.space.protocol.SearchSpace.canonical`: the
arch string in NAS-Bench-201; blocks' inputs, ops and combine with symmetric combines folded in the
NASNet space) to the leaderboard row that evaluated it. The adapter asks it before handing a
proposal to Tune: a cell on record is not trained again; its row is `duplicate_row` (``duplicate_of``
names the recorded trial, no training cost) and the searcher is told the recorded outcome
(`nas.results.trial.duplicate_outcome`).

``--trials`` counts children *evaluated*: a duplicate costs nothing and is not counted (the issue's
searcher bench counts the same way), so a run ends with ``--trials`` evaluated children plus its
duplicates. A searcher that proposes nothing new `MAX_CONSECUTIVE_DUPLICATES` times in a row has
exhausted what it will try (a small space, a collapsed policy): the search ends with a note instead
of asking forever.

The record is data in ``trials.jsonl`` alone (each row's genotype and ``duplicate_of``), so a resume
after ``kill -9`` rebuilds it with `CellRecord.from_rows`; nothing else is saved.

``--retrain-duplicates`` trains a repeated cell again (a second sample of a noisy proxy), up to
``--max-samples`` times in all (`CellRecord.samples`); proposed once more, it is told its recorded
result like any duplicate. A retrained row still names the first trial in ``duplicate_of``, and
`cell_scores` gives each cell's figure over its trained samples -- their mean, shrunk towards a
model of the other cells once the repeats measure the proxy's noise (`nas.results.shrinkage`) --
by which the report ranks and `best_cell` picks the run's best cell (``best_genotype.json``, the
final line, the report's best child).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nas.results.row import TrialRow, best
from nas.results.shrinkage import shrunk_means
from nas.results.trial import is_ranked
from nas.space.load import decision_tokens

MAX_CONSECUTIVE_DUPLICATES = 200
"""Proposals in a row that are all on record before the search gives up on new cells: at 15,625
NAS-Bench-201 cells a searcher still exploring finds a new one far sooner (random search's chance of
200 repeats in a row is nil until the space is nearly spent)."""

Canonical = Callable[[Mapping[str, Any]], str]
"""A row's genotype data -> its canonical form (the space's `canonical` of its parsed genotype)."""


class CellRecord:
    """Canonical form -> the row that first evaluated it, and how many times it was trained."""

    def __init__(self, canonical: Canonical) -> None:
        self.canonical = canonical
        self.first: dict[str, TrialRow] = {}  # canonical form -> first row evaluating it
        self.trained: dict[str, int] = {}  # canonical form -> rows that trained it (any status)
        self.consecutive = 0  # duplicates told in a row (reset by a new cell)

    @classmethod
    def from_rows(cls, rows: Iterable[TrialRow], canonical: Canonical) -> CellRecord:
        """The record of a leaderboard read back (a resume)."""
        record = cls(canonical)
        for row in rows:
            record.add(row)
        return record

    def recorded(self, genotype: Mapping[str, Any]) -> TrialRow | None:
        """The row that evaluated this cell already, if any."""
        return self.first.get(self.canonical(genotype))

    def samples(self, genotype: Mapping[str, Any]) -> int:
        """How many times this cell was trained (``--retrain-duplicates`` counts to ``--max-samples``)."""
        return self.trained.get(self.canonical(genotype), 0)

    def add(self, row: TrialRow) -> None:
        """Record a finished row (a new cell, a retrained sample or a told duplicate)."""
        key = self.canonical(row.genotype)
        if row.duplicate_of is None and key not in self.first:
            self.first[key] = row
        told = is_told_duplicate(row)
        if not told:
            self.trained[key] = self.trained.get(key, 0) + 1
        self.consecutive = self.consecutive + 1 if told else 0

    @property
    def exhausted(self) -> bool:
        return self.consecutive >= MAX_CONSECUTIVE_DUPLICATES


def duplicate_row(recorded: TrialRow, *, trial_id: str, index: int, genotype: dict[str, Any]) -> TrialRow:
    """The row of a proposal whose cell ``recorded`` evaluated: its outcome repeated, no training
    (no history, epochs or wall time), and ``duplicate_of`` naming the recorded trial."""
    return dataclasses.replace(
        recorded,
        index=index,
        trial_id=trial_id,
        genotype=genotype,
        val_accuracy_history=[],
        wall_s=None,
        images_per_s=None,
        epochs_done=0,
        duplicate_of=recorded.trial_id,
        retrained=False,
    )


def evaluated(rows: Iterable[TrialRow]) -> int:
    """Children evaluated (what ``--trials`` counts): every row but the told duplicates."""
    return sum(not is_told_duplicate(r) for r in rows)


def is_told_duplicate(row: TrialRow) -> bool:
    """A duplicate told from the record (not trained): it names a trial and was not `is_retrained`."""
    return row.duplicate_of is not None and not is_retrained(row)


def is_retrained(row: TrialRow) -> bool:
    """A repeat of a cell trained again (``--retrain-duplicates``): it names a trial and says so (a
    failed one has no wall time); rows written before the ``retrained`` column: it has a wall time."""
    if row.duplicate_of is None:
        return False
    return row.retrained if row.retrained is not None else row.wall_s is not None


def cell_samples(rows: Iterable[TrialRow]) -> dict[str, list[float]]:
    """First trial id -> its cell's trained, ranked samples' scores (``--retrain-duplicates``).
    Told duplicates are the same sample again and are left out."""
    samples: dict[str, list[float]] = {}
    for row in rows:
        if is_ranked(row.status, row.score) and not is_told_duplicate(row) and row.score is not None:
            samples.setdefault(row.duplicate_of or row.trial_id, []).append(row.score)
    return samples


def cell_scores(rows: Sequence[TrialRow]) -> dict[str, float]:
    """First trial id -> the figure its cell is ranked by: the mean score of its trained samples,
    shrunk towards a model of the other cells (`nas.results.shrinkage.shrunk_means`) once repeats
    with differing scores measure the proxy's noise. Without retrained samples, each row's score."""
    samples = cell_samples(rows)
    if not any(map(is_retrained, rows)):
        return {tid: values[0] for tid, values in samples.items()}
    decisions: dict[str, tuple[str, ...]] = {}
    for row in rows:
        cell = row.duplicate_of or row.trial_id
        if cell in samples and cell not in decisions:
            decisions[cell] = decision_tokens(row.genotype)
    return shrunk_means(samples, decisions)


def best_cell(rows: Sequence[TrialRow]) -> TrialRow | None:
    """The run's best cell: the `scored <TrialRow.scored>` row (its cell's first sample) whose cell has
    the highest `cell_scores`, the earliest on a tie. Without retrained samples (no
    ``--retrain-duplicates``) that is each row's own score and this is `best`, at no extra cost;
    with them, a cell measured once and lucky does not outrank one whose samples say it is better,
    and the best can move to an older row when a repeat lowers a cell's figure."""
    if not any(map(is_retrained, rows)):
        return best(rows)
    scores = cell_scores(rows)
    top, top_score = None, -math.inf
    for row in rows:
        score = scores.get(row.trial_id) if row.scored else None
        if score is not None and score > top_score:
            top, top_score = row, score
    return top
