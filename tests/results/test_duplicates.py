"""The record of evaluated cells (nas/results/duplicates.py), without Ray: what is a duplicate, what it
tells, what --trials counts, what a resume rebuilds from trials.jsonl, and the means of retrained cells."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.results import duplicates
from nas.results.duplicates import (
    CellRecord,
    best_cell,
    cell_samples,
    cell_scores,
    duplicate_row,
    evaluated,
    is_told_duplicate,
)
from nas.results.row import TrialRow
from nas.results.run_folder import RunFolder
from nas.results.trial import duplicate_outcome
from search_spaces.nas_bench_201 import Nb201Space
from search_spaces.nasnet import NasnetSpace

ARCH_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ARCH_B = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
NB201 = Nb201Space()


def _canonical(genotype: Mapping[str, Any]) -> str:
    return NB201.canonical(NB201.genotype_from_json(genotype))


def _genotype(arch: str) -> dict[str, Any]:
    return NB201.genotype_from_json(arch).to_dict()


def _row(index: int, arch: str, accuracy: float | None = 0.5, **extra: Any) -> TrialRow:
    return TrialRow(
        index=index,
        trial_id=str(index),
        genotype=_genotype(arch),
        status="completed" if accuracy is not None else "failed",
        val_accuracy=accuracy,
        val_accuracy_history=[accuracy] if accuracy is not None else [],
        params=10,
        mult_adds=20,
        wall_s=1.0,
        images_per_s=100.0,
        epochs_done=1,
        error=None if accuracy is not None else "boom",
        searcher="random",
        arch=arch,
        **extra,
    )


def test_a_recorded_cell_is_a_duplicate_and_tells_the_recorded_outcome() -> None:
    record = CellRecord(_canonical)
    first = _row(0, ARCH_A, 0.7)
    assert record.recorded(first.genotype) is None
    record.add(first)
    assert record.recorded(_genotype(ARCH_A)) is first
    assert record.recorded(_genotype(ARCH_B)) is None
    dup = duplicate_row(first, trial_id="5", index=1, genotype=_genotype(ARCH_A))
    assert dup.duplicate_of == "0" and dup.trial_id == "5" and dup.index == 1
    assert dup.wall_s is None and dup.epochs_done == 0 and dup.val_accuracy_history == []
    assert is_told_duplicate(dup) and not dup.scored  # never ranked twice
    assert duplicate_outcome(dup.to_trial_result()) == first.to_trial_result()
    assert TrialRow.from_dict(dup.to_dict()) == dup


def test_trials_count_evaluated_children_not_told_duplicates() -> None:
    first = _row(0, ARCH_A)
    rows = [first, duplicate_row(first, trial_id="1", index=1, genotype=first.genotype), _row(2, ARCH_B)]
    assert evaluated(rows) == 2
    retrained = _row(3, ARCH_A, 0.9, duplicate_of="0")  # --retrain-duplicates: trained, so it counts
    assert evaluated([*rows, retrained]) == 3 and not is_told_duplicate(retrained)


def test_the_record_is_rebuilt_from_trials_jsonl(tmp_path: Path) -> None:
    """A resume (after kill -9 too) reads the record back from the leaderboard alone."""
    run = RunFolder(tmp_path)
    first = _row(0, ARCH_A)
    for row in (first, duplicate_row(first, trial_id="1", index=1, genotype=first.genotype), _row(2, ARCH_B)):
        run.add_trial(row)
    record = CellRecord.from_rows(run.trials(), _canonical)
    assert record.recorded(_genotype(ARCH_A)) == first
    assert (
        record.recorded(_genotype(ARCH_B)) is not None and record.recorded(_genotype(ARCH_B)).trial_id == "2"
    )  # type: ignore[union-attr]


def test_old_rows_without_the_new_columns_read_back() -> None:
    data = _row(0, ARCH_A).to_dict()
    for key in ("arch", "table_accuracy", "duplicate_of"):
        del data[key]
    row = TrialRow.from_dict(data)
    assert row.arch is None and row.duplicate_of is None and row.scored


def test_consecutive_duplicates_end_the_search(monkeypatch: Any) -> None:
    monkeypatch.setattr(duplicates, "MAX_CONSECUTIVE_DUPLICATES", 3)
    record = CellRecord(_canonical)
    first = _row(0, ARCH_A)
    record.add(first)
    for k in range(1, 3):
        record.add(duplicate_row(first, trial_id=str(k), index=k, genotype=first.genotype))
    assert not record.exhausted
    record.add(_row(3, ARCH_B))  # a new cell resets the count
    for k in range(4, 7):
        record.add(duplicate_row(first, trial_id=str(k), index=k, genotype=first.genotype))
    assert record.exhausted


def test_retrained_samples_are_averaged_per_cell() -> None:
    rows = [_row(0, ARCH_A, 0.6), _row(1, ARCH_B, 0.7), _row(2, ARCH_A, 0.8, duplicate_of="0")]
    told = duplicate_row(rows[1], trial_id="3", index=3, genotype=rows[1].genotype)
    assert cell_samples([*rows, told]) == {"0": [0.6, 0.8], "1": [0.7]}  # a told repeat: no sample
    # one repeat cannot measure the noise (fewer than MIN_REPEAT_DOF): each cell's plain mean
    assert cell_scores(rows) == {"0": 0.7, "1": 0.7}


def test_the_record_counts_each_cells_trainings_for_max_samples() -> None:
    record = CellRecord(_canonical)
    first = _row(0, ARCH_A)
    for row in (first, _row(1, ARCH_A, 0.6, duplicate_of="0"), _row(2, ARCH_B)):
        record.add(row)
    record.add(duplicate_row(first, trial_id="3", index=3, genotype=first.genotype))  # told: not trained
    assert (record.samples(first.genotype), record.samples(_genotype(ARCH_B))) == (2, 1)
    assert record.recorded(first.genotype) is first  # a retrained sample never replaces the first row


def test_a_retrained_sample_that_failed_is_a_child_not_a_told_duplicate() -> None:
    """A retrained child whose worker died has no wall time, as a told duplicate has none: its
    ``retrained`` column tells them apart (found by bench/chaos.py --max-samples 3)."""
    first = _row(0, ARCH_A)
    died = dataclasses.replace(
        _row(1, ARCH_A, None, duplicate_of="0", retrained=True), wall_s=None, epochs_done=0
    )
    told = duplicate_row(first, trial_id="2", index=2, genotype=first.genotype)
    assert not is_told_duplicate(died) and is_told_duplicate(told)
    assert evaluated([first, died, told]) == 2  # --trials counts the failed sample: it ran
    record = CellRecord.from_rows([first, died, told], _canonical)
    assert record.samples(first.genotype) == 2
    older = dataclasses.replace(died, retrained=None, wall_s=3.0)  # a row from before the column
    assert not is_told_duplicate(older) and evaluated([first, older]) == 2


def test_the_best_cell_is_chosen_by_its_mean_once_a_cell_is_retrained() -> None:
    a, b = _row(0, ARCH_A, 0.9), _row(1, ARCH_B, 0.8)
    assert best_cell([a, b]) is a  # one sample each: the best score, as `best`
    told = duplicate_row(a, trial_id="2", index=2, genotype=a.genotype)
    assert best_cell([a, b, told]) is a  # a told repeat is the same sample again
    assert best_cell([a, b, _row(3, ARCH_A, 0.5, duplicate_of="0")]) is b  # A's mean 0.7 < 0.8
    assert best_cell([a, b, _row(3, ARCH_A, 0.7, duplicate_of="0")]) is a  # a tie: the earlier


def test_best_genotype_json_follows_the_means(tmp_path: Path) -> None:
    """--retrain-duplicates: a repeat that lowers a cell's mean moves best_genotype.json to another
    cell, and a resume reads the same best back."""
    run = RunFolder(tmp_path)
    a, b = _row(0, ARCH_A, 0.9), _row(1, ARCH_B, 0.8)
    for row in (a, b):
        run.add_trial(row)
    assert json.loads(run.best_genotype.read_text()) == a.genotype
    run.add_trial(_row(2, ARCH_A, 0.5, duplicate_of="0"))
    assert json.loads(run.best_genotype.read_text()) == b.genotype
    resumed = RunFolder(tmp_path)
    resumed.trials()
    resumed.add_trial(_row(3, ARCH_A, 0.6, duplicate_of="0"))  # A: mean 2.0/3 < 0.8, B stays
    assert json.loads(run.best_genotype.read_text()) == b.genotype


def test_nasnet_cells_equal_up_to_a_symmetric_combine_are_one_record() -> None:
    space = NasnetSpace(num_blocks=2)
    choices = space.encode(space.decode(tuple(0 for _ in space.decisions)))
    genotype = space.decode(choices)
    record = CellRecord(lambda g: space.canonical(space.genotype_from_json(g)))
    record.add(TrialRow(**{**_row(0, ARCH_A).to_dict(), "genotype": genotype.to_dict(), "arch": None}))
    assert record.recorded(genotype.to_dict()) is not None
