"""The run folder's files: atomic replacement, appends that heal a torn line, the `TrialRow`
leaderboard round trip and `best` (no Ray)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import get_args

import pytest

from nas.errors import NasError
from nas.results.row import LEADERBOARD_KEYS, TrialRow, best
from nas.results.run_folder import (
    RunFolder,
    RunFolderError,
    append_jsonl,
    atomic_write_text,
    read_jsonl,
    write_json,
)
from nas.results.trial import TrialResult, TrialStatus
from nas.space.genotype import Genotype


def _row(
    index: int, genotype: Genotype, status: TrialStatus = "completed", accuracy: float | None = 0.5
) -> TrialRow:
    return TrialRow(
        index=index,
        trial_id=str(index),
        genotype=genotype.to_dict(),
        status=status,
        val_accuracy=accuracy if status == "completed" else None,
        val_accuracy_history=[accuracy] if accuracy is not None else [],
        params=1234,
        mult_adds=56789,
        wall_s=1.5,
        images_per_s=100.0,
        epochs_done=1 if accuracy is not None else 0,
        error=None if status == "completed" else "too many params",
        searcher="rl",
    )


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_json(target, {"a": 1, "nan": float("nan")})
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    atomic_write_text(target, "old\n")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_nan_is_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    append_jsonl(path, {"step": 1, "best_reward": float("nan"), "op_probs": {"a": float("inf")}})
    assert read_jsonl(path) == [{"step": 1, "best_reward": None, "op_probs": {"a": None}}]
    assert "NaN" not in path.read_text()


def test_torn_last_line_is_skipped_and_cut_off_on_append(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('{"index": 0}\n{"index": 1}\n{"ind')  # a writer killed mid-line
    assert read_jsonl(path) == [{"index": 0}, {"index": 1}]
    append_jsonl(path, {"index": 2})
    assert path.read_text() == '{"index": 0}\n{"index": 1}\n{"index": 2}\n'


def test_a_whole_last_object_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('{"index": 0}\n{"index": 1}')  # killed between the object and its newline
    append_jsonl(path, {"index": 2}, sync=False)
    assert read_jsonl(path) == [{"index": 0}, {"index": 1}, {"index": 2}]


def test_a_torn_line_longer_than_a_read_chunk_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('{"index": 0}\n{"pad": "' + "x" * 200_000)
    append_jsonl(path, {"index": 1})
    assert path.read_text() == '{"index": 0}\n{"index": 1}\n'


def test_append_keeps_earlier_lines_byte_for_byte(tmp_path: Path) -> None:
    """An append writes at the end and never rewrites what is there (the cost per child is flat)."""
    path = tmp_path / "trials.jsonl"
    for i in range(3):
        append_jsonl(path, {"index": i})
    before = path.read_bytes()
    inode = path.stat().st_ino
    append_jsonl(path, {"index": 3})
    assert path.read_bytes().startswith(before) and path.stat().st_ino == inode


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('{"index": 0}\nnot json\n{"index": 2}\n')
    with pytest.raises(RunFolderError, match=r"trials.jsonl:2: not a JSON object"):
        read_jsonl(path)


def test_leaderboard_round_trip(tmp_path: Path, tiny_genotype: Genotype) -> None:
    run = RunFolder(tmp_path / "run")
    assert not run.is_run()
    rows = [
        _row(0, tiny_genotype, accuracy=0.25),
        _row(1, tiny_genotype, status="rejected", accuracy=None),
        _row(2, tiny_genotype, accuracy=0.75),
        _row(3, tiny_genotype, accuracy=0.5),
    ]
    for row in rows:
        run.add_trial(row)
    assert not run.trials_csv.exists()  # written at the end of a run, not per child
    assert run.trials() == rows
    assert all(tuple(r) == LEADERBOARD_KEYS for r in read_jsonl(run.trials_jsonl))
    run.write_csv()
    with run.trials_csv.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == LEADERBOARD_KEYS
    assert [r["trial_id"] for r in table] == ["0", "1", "2", "3"]
    assert json.loads(table[2]["genotype"]) == tiny_genotype.to_dict()
    assert table[1]["val_accuracy"] == "" and table[1]["error"] == "too many params"
    assert best(rows) == rows[2]
    assert Genotype.load(run.best_genotype).to_dict() == tiny_genotype.to_dict()


def test_best_genotype_follows_the_best_across_folder_objects(
    tmp_path: Path, tiny_genotype: Genotype
) -> None:
    """A resumed search (a new `RunFolder`) learns the best so far from disk, once."""
    RunFolder(tmp_path / "run").add_trial(_row(0, tiny_genotype, accuracy=0.75))
    resumed = RunFolder(tmp_path / "run")
    other = dict(tiny_genotype.to_dict(), name="other")
    resumed.add_trial(TrialRow(**{**_row(1, tiny_genotype, accuracy=0.5).to_dict(), "genotype": other}))
    assert json.loads(resumed.best_genotype.read_text()) == tiny_genotype.to_dict()
    resumed.add_trial(TrialRow(**{**_row(2, tiny_genotype, accuracy=0.9).to_dict(), "genotype": other}))
    assert json.loads(resumed.best_genotype.read_text()) == other


def test_best_takes_the_earliest_of_equals_and_skips_unscored(tiny_genotype: Genotype) -> None:
    rows = [
        _row(0, tiny_genotype, status="failed", accuracy=None),
        _row(1, tiny_genotype, accuracy=0.5),
        _row(2, tiny_genotype, accuracy=0.5),
        TrialRow(**{**_row(3, tiny_genotype).to_dict(), "val_accuracy": None}),  # completed, no accuracy
    ]
    assert best(rows) is rows[1]
    assert best([None, rows[0]]) is None and best([]) is None
    assert best([rows[2], rows[1]]) is rows[2]  # "earliest" is the order given: a running best keeps its own


@pytest.mark.parametrize("status", get_args(TrialStatus))
def test_a_row_carries_every_status_and_round_trips(status: TrialStatus, tiny_genotype: Genotype) -> None:
    row = _row(4, tiny_genotype, status=status, accuracy=0.5 if status == "completed" else None)
    assert TrialRow.from_dict(json.loads(json.dumps(row.to_dict()))) == row
    assert row.to_trial_result().status == status


def test_a_completed_row_without_accuracy_is_told_as_failed(tiny_genotype: Genotype) -> None:
    row = TrialRow(**{**_row(0, tiny_genotype).to_dict(), "val_accuracy": None, "error": "no result"})
    assert row.to_trial_result() == TrialResult("failed", None, 1234, 56789, "no result")


def test_a_row_with_other_keys_or_an_unknown_status_is_refused(tiny_genotype: Genotype) -> None:
    data = _row(0, tiny_genotype).to_dict()
    del data["searcher"]
    with pytest.raises(NasError, match="searcher"):
        TrialRow.from_dict(data)
    with pytest.raises(NasError, match="unknown status 'lost'"):
        TrialRow.from_dict({**_row(0, tiny_genotype).to_dict(), "status": "lost"})
