"""The run folder's files: atomic replacement, torn-line tolerance, leaderboard round trip (no Ray)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from nas.results.run_folder import (
    LEADERBOARD_KEYS,
    RunFolder,
    RunFolderError,
    append_jsonl,
    atomic_write_text,
    best_trial,
    read_jsonl,
    write_json,
)
from nas.space.genotype import Genotype


def _row(
    index: int, genotype: Genotype, status: str = "completed", accuracy: float | None = 0.5
) -> dict[str, Any]:
    return {
        "index": index,
        "trial_id": str(index),
        "genotype": genotype.to_dict(),
        "status": status,
        "val_accuracy": accuracy if status == "completed" else None,
        "val_accuracy_history": [accuracy] if accuracy is not None else [],
        "params": 1234,
        "mult_adds": 56789,
        "wall_s": 1.5,
        "images_per_s": 100.0,
        "epochs_done": 1 if accuracy is not None else 0,
        "error": None if status == "completed" else "too many params",
        "searcher": "rl",
    }


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


def test_torn_last_line_is_skipped_and_healed_on_append(tmp_path: Path) -> None:
    path = tmp_path / "trials.jsonl"
    path.write_text('{"index": 0}\n{"index": 1}\n{"ind')  # a writer killed mid-line
    assert read_jsonl(path) == [{"index": 0}, {"index": 1}]
    append_jsonl(path, {"index": 2})
    assert read_jsonl(path) == [{"index": 0}, {"index": 1}, {"index": 2}]
    assert path.read_text().endswith("}\n")


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
    assert run.trials() == rows
    assert all(tuple(r) == LEADERBOARD_KEYS for r in run.trials())
    with run.trials_csv.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == LEADERBOARD_KEYS
    assert [r["trial_id"] for r in table] == ["0", "1", "2", "3"]
    assert json.loads(table[2]["genotype"]) == tiny_genotype.to_dict()
    assert table[1]["val_accuracy"] == "" and table[1]["error"] == "too many params"
    assert best_trial(rows) == rows[2]
    assert Genotype.load(run.best_genotype).to_dict() == tiny_genotype.to_dict()


def test_a_row_with_other_keys_is_refused(tmp_path: Path, tiny_genotype: Genotype) -> None:
    run = RunFolder(tmp_path / "run")
    row = _row(0, tiny_genotype)
    del row["searcher"]
    with pytest.raises(ValueError, match="searcher"):
        run.add_trial(row)
    assert run.trials() == []
