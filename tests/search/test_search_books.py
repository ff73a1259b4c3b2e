"""The driver's books without Ray: rows built from reports, `replay_told`, and the searcher's snapshot +
journal surviving ``kill -9`` at chosen points (between a journal write and a snapshot, mid-snapshot,
mid-line), exactly once: no child lost, none trained twice, the same children as an unbroken run.

Children are instant (`bench/driver_scale.py`'s reward computed from the genotype), and the driver is
a real subprocess that really kills itself with SIGKILL at the chosen point.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nas.results.duplicates import evaluated
from nas.results.row import TrialRow
from nas.results.run_folder import RunFolder, RunFolderError, journaled_ledger, read_json, read_jsonl
from nas.results.trial import TrialResult
from nas.search.searcher import create_searcher
from nas.search.tune_adapter import leaderboard_row, replay_told
from nas.searcher.checkpoint import SearcherCheckpoint
from search_spaces.nasnet import NasnetSpace

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = NasnetSpace(num_blocks=2)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("driver_scale", REPO_ROOT / "bench" / "driver_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()

# Run in a subprocess: drive a search of BUDGET children, SIGKILL-ing itself at the KILL_AT-th call of
# the chosen point. Each point wraps the real function, so the kill lands exactly there.
CHILD = """
import functools, os, signal, sys
sys.path.insert(0, {root!r})
import nas.results.run_folder as run_folder
import nas.searcher.checkpoint as searcher_module
bench = __import__("importlib").import_module("driver_scale")
point, at = sys.argv[1], int(sys.argv[2])
calls = [0]

def kill_on(at_call, before=None):
    def wrap(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if calls[0] == at_call and before is not None:
                before(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)
            result = fn(*args, **kwargs)
            if calls[0] == at_call:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapped
    return wrap

def torn(path, row, sync=True):  # half of the journal line reaches the file
    with open(path, "ab") as f:
        f.write(run_folder.json.dumps(row).encode()[:20])

Checkpoint = searcher_module.SearcherCheckpoint
if point == "before_snapshot":  # the tell is journaled, its snapshot not yet written
    Checkpoint.snapshot = kill_on(at, before=lambda *a, **k: None)(Checkpoint.snapshot)
elif point == "before_truncate":  # the snapshot is written, the journal not yet emptied
    searcher_module.os = type("os", (), {{"truncate": kill_on(at, before=lambda *a: None)(os.truncate)}})
elif point == "after_row":  # the row is on the leaderboard, the searcher not yet told
    run_folder.RunFolder.add_trial = kill_on(at)(run_folder.RunFolder.add_trial)
elif point == "torn_journal":  # a journal line half written
    searcher_module.append_jsonl = kill_on(at, before=torn)(searcher_module.append_jsonl)
lag = None if sys.argv[7] == "arrival" else int(sys.argv[7])
adapter = bench.make_adapter(
    __import__("pathlib").Path(sys.argv[3]), sys.argv[4], budget=int(sys.argv[5]), blocks=2, snapshot_every=4,
    tell_lag=lag,
)
bench.drive(adapter, concurrency=int(sys.argv[6]))
adapter.finish()
"""


def run_child(
    run_dir: Path,
    searcher: str,
    point: str,
    at: int,
    *,
    budget: int,
    concurrency: int,
    tell_lag: int | None = None,
) -> int:
    code = CHILD.format(root=str(REPO_ROOT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "bench"), str(REPO_ROOT)])}
    lag = "arrival" if tell_lag is None else str(tell_lag)
    args = [point, str(at), str(run_dir), searcher, str(budget), str(concurrency), lag]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-3000:]
    return done.returncode


def finish_in_process(
    run_dir: Path,
    searcher: str,
    *,
    budget: int,
    concurrency: int,
    tell_lag: int | None = None,
    finish_order: random.Random | None = None,
) -> list[TrialRow]:
    adapter = bench.make_adapter(
        run_dir, searcher, budget=budget, blocks=2, snapshot_every=4, tell_lag=tell_lag
    )
    bench.drive(adapter, concurrency=concurrency, finish_order=finish_order)
    adapter.finish()
    adapter.inner.close()
    return RunFolder(run_dir).trials()


def _key(rows: list[TrialRow]) -> list[tuple[str, str, float | None]]:
    return [(r.trial_id, json.dumps(r.genotype, sort_keys=True), r.val_accuracy) for r in rows]


POINTS = ["before_snapshot", "before_truncate", "after_row", "torn_journal"]


@pytest.mark.slow
@pytest.mark.parametrize("searcher", ["evolution", "rl", "tpe"])
@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_a_point_then_resume_is_exactly_once(searcher: str, point: str, tmp_path: Path) -> None:
    """One child at a time, so the unbroken run's order is the only right one: the resumed run must
    reproduce it exactly (same ids, genotypes and rewards, in the same order) -- except for ``tpe``
    after a torn ask: its study already holds that trial, which the resume fails as an orphan that
    never ran, so the ids from there on are one higher (still each child once)."""
    budget = 14
    reference = finish_in_process(tmp_path / "ref", searcher, budget=budget, concurrency=1)
    run_dir = tmp_path / "run"
    at = {"before_snapshot": 2, "before_truncate": 2, "after_row": 7, "torn_journal": 9}[point]
    assert run_child(run_dir, searcher, point, at, budget=budget, concurrency=1) == -signal.SIGKILL
    killed = RunFolder(run_dir).trials()
    assert 0 < len(killed) < budget
    told, outstanding = journaled_ledger(RunFolder(run_dir))
    on_board = {r.trial_id for r in killed}
    assert told <= on_board <= told | outstanding  # nothing told is missing from the leaderboard
    if point == "torn_journal":
        assert not RunFolder(run_dir).searcher_journal.read_text().endswith("\n")
    rows = finish_in_process(run_dir, searcher, budget=budget, concurrency=1)
    # a cell proposed again is a told duplicate: a row of its own, not counted in the budget
    assert [r.index for r in rows] == list(range(len(rows))) and evaluated(rows) == budget
    assert len(read_jsonl(RunFolder(run_dir).stats_jsonl)) == len(rows)
    if searcher == "tpe" and point == "torn_journal":
        assert _key(rows[: len(killed)]) == _key(reference[: len(killed)])
        assert len({r.trial_id for r in rows}) == len(rows)
    else:
        assert _key(rows) == _key(reference)
    state = read_json(RunFolder(run_dir).searcher_state)
    assert state["ledger"]["num_asked"] >= budget and state["ledger"]["outstanding"] == {}
    assert RunFolder(run_dir).searcher_journal.read_text() == ""  # the final snapshot holds it all


@pytest.mark.slow
@pytest.mark.parametrize(("searcher", "tell_lag"), [("random", None), ("evolution", 5)])
def test_repeated_kills_with_children_in_flight_lose_and_repeat_nothing(
    searcher: str, tell_lag: int | None, tmp_path: Path
) -> None:
    """Three children outstanding, killed at several points in turn: each proposal id is on the
    leaderboard exactly once and the ids are the searcher's 0..n-1 (none issued twice or skipped),
    with results told as they arrive and in ask order (``tell_lag``; then the children finish in a
    shuffled order, so rows wait to be told)."""
    budget, run_dir = 40, tmp_path / "run"
    for point, at in [("before_snapshot", 2), ("after_row", 5), ("torn_journal", 7), ("before_truncate", 3)]:
        run_child(run_dir, searcher, point, at, budget=budget, concurrency=3, tell_lag=tell_lag)
    rows = finish_in_process(
        run_dir,
        searcher,
        budget=budget,
        concurrency=3,
        tell_lag=tell_lag,
        finish_order=None if tell_lag is None else random.Random(0),
    )
    # --trials counts evaluated children; a repeated cell is a told duplicate row on top (issue 23)
    assert len([r for r in rows if r.duplicate_of is None]) == budget
    assert [r.index for r in rows] == list(range(len(rows)))
    assert sorted(int(r.trial_id) for r in rows) == list(range(len(rows)))
    assert [r["step"] for r in read_jsonl(RunFolder(run_dir).stats_jsonl)] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("searcher", ["evolution", "rl", "tpe"])
def test_told_in_ask_order_the_children_do_not_depend_on_which_finishes_first(
    searcher: str, tmp_path: Path
) -> None:
    """``--tell-order asked``: three children at a time finishing in three different orders propose
    the same children (ids, cells, rewards); told as they arrive, the same orders do not."""

    def children(order: int | None, tell_lag: int | None) -> str:
        run_dir = tmp_path / f"{order}-{tell_lag}"
        finish_order = None if order is None else random.Random(order)
        rows = finish_in_process(
            run_dir, searcher, budget=24, concurrency=3, tell_lag=tell_lag, finish_order=finish_order
        )
        assert len([r for r in rows if r.duplicate_of is None]) == 24
        return json.dumps(sorted(_key(rows)))

    in_order = {children(order, 5) for order in (None, 1, 2)}
    assert len(in_order) == 1
    assert len({children(order, None) for order in (None, 1, 2)}) > 1


def _report(status: str = "completed", history: tuple[float, ...] = (0.25, 0.5)) -> dict[str, Any]:
    return {
        "status": status,
        "val_accuracy_history": list(history),
        "best_val_accuracy": max(history, default=None),
        "params": 10,
        "mult_adds": 20,
        "wall_s": 1.0,
        "images_per_s": 5.0,
    }


@pytest.mark.parametrize(
    ("report", "error", "status", "accuracy", "reason"),
    [
        (_report(), False, "completed", 0.5, None),
        (
            _report("running", (0.25,)),
            False,
            "stopped",
            0.25,
            "stopped early by the scheduler after 1 epoch(s)",
        ),
        ({**_report("rejected", ()), "error": "too big"}, False, "rejected", None, "too big"),
        (_report("failed", (0.25,)), False, "failed", None, "no result reported"),
        ({}, True, "failed", None, "the child's worker died or raised"),
        ({}, False, "failed", None, "no result reported"),
    ],
)
def test_leaderboard_row_from_a_last_report(
    report: dict[str, Any], error: bool, status: str, accuracy: float | None, reason: str | None
) -> None:
    searcher = create_searcher("random", SMALL, seed=0)
    proposal = searcher.ask()
    row = leaderboard_row(proposal, report, error=error, index=3, searcher="random")
    assert (row.status, row.val_accuracy, row.error) == (status, accuracy, reason)
    assert row.index == 3 and row.trial_id == proposal.trial_id and row.searcher == "random"
    assert row.genotype == proposal.genotype.to_dict()
    assert row.epochs_done == len(row.val_accuracy_history) == len(report.get("val_accuracy_history", []))
    assert TrialRow.from_dict(json.loads(json.dumps(row.to_dict()))) == row


def test_replay_told_tells_the_finished_and_reruns_the_rest() -> None:
    searcher = create_searcher("evolution", SMALL, seed=0, population_size=4, sample_size=2)
    proposals = [searcher.ask() for _ in range(4)]
    searcher.tell(proposals[0].trial_id, TrialResult("completed", 0.5))
    # The leaderboard holds 0 (told) and 2 (written, then killed before the tell); 1 and 3 were running.
    rows = [
        leaderboard_row(p, _report(), error=False, index=i, searcher="evolution")
        for i, p in enumerate([proposals[0], proposals[2]])
    ]
    told, rerun = replay_told(searcher, rows)
    assert told == [rows[1]]
    assert [(p.trial_id, p.choices, p.genotype) for p in rerun] == [
        (p.trial_id, p.choices, p.genotype) for p in (proposals[1], proposals[3])
    ]
    assert sorted(searcher.ledger.outstanding) == [proposals[1].trial_id, proposals[3].trial_id]
    assert replay_told(searcher, rows) == ([], rerun)  # a second replay tells nothing twice


def test_replay_told_orders_numeric_ids_numerically() -> None:
    searcher = create_searcher("random", SMALL, seed=0)
    proposals = [searcher.ask() for _ in range(12)]
    _, rerun = replay_told(searcher, [])
    assert [p.trial_id for p in rerun] == [p.trial_id for p in proposals]  # "10" after "9", not after "1"


def test_journal_redo_matches_the_unbroken_searcher_and_skips_snapshotted_events(tmp_path: Path) -> None:
    """The state after snapshot + journal is the state of a searcher that was never stopped."""
    checkpoint = SearcherCheckpoint(tmp_path / "state.json", tmp_path / "journal.jsonl", every_tells=3)
    unbroken = create_searcher("rl", SMALL, seed=0, batch_size=2)
    for i in range(8):
        proposal = unbroken.ask()
        checkpoint.asked(proposal)
        result = TrialResult("completed", (i % 5) / 5)
        unbroken.tell(proposal.trial_id, result)
        checkpoint.told(unbroken, proposal.trial_id, result)
    assert len(read_jsonl(checkpoint.journal)) == 4  # asks and tells since the snapshot at tell 6
    # As if killed after the snapshot at tell 6 but before the journal was emptied: the old events are
    # still there in front, and must be skipped by their sequence numbers.
    stale = [{"seq": n, "tell": "x", "result": {}} for n in range(3)]
    text = "".join(json.dumps(e) + "\n" for e in stale) + checkpoint.journal.read_text()
    checkpoint.journal.write_text(text + '{"seq": 16, "ask"')  # and a torn last line
    resumed = create_searcher("rl", SMALL, seed=0, batch_size=2)
    restored = SearcherCheckpoint(checkpoint.state, checkpoint.journal)
    assert restored.restore(resumed) == 4
    assert restored.seq == checkpoint.seq == 16
    assert json.dumps(resumed.state_dict()) == json.dumps(unbroken.state_dict())
    assert resumed.ask() == unbroken.ask()


def test_a_journal_with_a_gap_is_refused(tmp_path: Path) -> None:

    journal = tmp_path / "journal.jsonl"
    searcher = create_searcher("random", SMALL, seed=0)
    first = searcher.ask()
    journal.write_text(
        json.dumps({"seq": 0, "ask": first.trial_id, "choices": list(first.choices)})
        + '\n{"seq": 2, "tell": "0", "result": {"status": "failed", "reward": null}}\n'
    )
    with pytest.raises(RunFolderError, match="gap"):  # the one reader: nas.results.run_folder
        SearcherCheckpoint(tmp_path / "state.json", journal).restore(create_searcher("random", SMALL, seed=0))
