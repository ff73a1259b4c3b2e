"""A search's run folder and its leaderboard: every file written so that a kill never leaves it torn.

A search is killed (Ctrl-C, a preempted node, ``kill -9``) at any moment, and both ``--resume`` and
``nas report`` then read what is on disk. Whole files are replaced atomically (write a temp file in the
same folder, fsync, ``os.replace``): a reader sees the old content or the new, never half. The JSON-lines
files grow by one line per child, up to NASNet's 20,000 children (Zoph et al. 2018, Sec. 4), so they
are *appended* to (write, flush, fsync: a cost per child that does not grow with the run); a kill
mid-append leaves a torn last line, which readers skip and the next append cuts off. What is derived
from the rows (``trials.csv``) is written once, at the end of a run or by ``nas report``, not per child.

Layout of ``<results-dir>/<run>/``::

    config.json           every resolved setting of the search
    searcher_state.json   a snapshot of the searcher's JSON ``state_dict`` (every K tells or T seconds)
    searcher_journal.jsonl  the asks and tells since that snapshot (`nas.search.searcher.SearcherCheckpoint`)
    optuna.db             the Optuna study (tpe only: `TPESearcher.run_options`)
    warm_start.json       ``--warm-start``'s proxy and its best cells, the first children (`nas.search.warm_start`)
    trials.jsonl          one `TrialRow` per finished child, keys `LEADERBOARD_KEYS` (the source of truth)
    trials.csv            the same rows, the genotype as compact JSON (at the end of a run / ``nas report``)
    searcher_stats.jsonl  one object per tell: step, best_reward and the searcher's stats
    best_genotype.json    the best completed child's genotype; with ``--select-top``, once selection
                          rows exist, the selected cell's (best mean accuracy over its seeds)
    select_state.json, select_journal.jsonl, select_stats.jsonl
                          the selection stage's searcher books, as above (`RunFolder.stage_folder`)
    ray/                  Ray Tune's experiment folders (one per attempt)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, get_args

from nas.errors import NasError, shown
from nas.results.duplicates import best_cell, is_retrained
from nas.results.row import LEADERBOARD_KEYS, REQUIRED_KEYS, TrialRow, best
from nas.results.trial import TrialStatus

logger = logging.getLogger(__name__)


def _file_mode() -> int:
    """0666 less the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An `OSError` of a write to ``path`` that names no file (``No space left on device`` from a
    flush) is raised again naming ``path``: the one line the CLI prints says which file and where."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with _naming(path):
            os.fchmod(fd, _FILE_MODE)  # mkstemp's 0600 would make run folders private to their writer
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_json_safe(obj), indent=2) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file; a torn last line (a writer killed mid-line) is skipped.

    Only the last line may be torn: a bad line before it means the file is corrupt, not unfinished.
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number != len(lines):
                raise RunFolderError(f"{path}:{number}: not a JSON object ({exc.msg}); {_REPAIR}") from None
            logger.warning("%s: skipping a torn last line", path)
    return rows


def append_jsonl(path: Path, row: Mapping[str, Any], *, sync: bool = True) -> None:
    """Append ``row`` as one line: write, flush and (``sync``) fsync; the cost does not grow with the file.

    A torn last line left by a killed writer is cut off first (or ended, if it is a whole object
    that only lacks its newline), so the new line never fuses with it. ``sync=False`` leaves
    durability to a later fsync of the same file (the page cache already survives a ``kill -9``).
    """
    line = (json.dumps(_json_safe(row)) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _naming(path), path.open("a+b") as f:
        _heal_tail(f)
        f.write(line)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def sync_file(path: Path) -> None:
    """fsync ``path`` (if it exists): makes the unsynced appends before it durable."""
    if path.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _heal_tail(f: BinaryIO, chunk: int = 1 << 16) -> None:
    """Make an append-mode file end with a newline: end a whole last object, cut off a torn one."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return
    f.seek(end - 1)
    if f.read(1) == b"\n":
        return
    start = end
    while start > 0:  # find the start of the last line, reading backwards a chunk at a time
        lo = max(start - chunk, 0)
        f.seek(lo)
        newline = f.read(start - lo).rfind(b"\n")
        if newline >= 0:
            start = lo + newline + 1
            break
        start = lo
    f.seek(start)
    tail = f.read()
    try:
        json.loads(tail)
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s: cutting off a torn last line", f.name)
        f.truncate(start)
    else:
        f.write(b"\n")


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them and readers choke on ``NaN``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def leaderboard_csv(rows: Iterable[TrialRow]) -> str:
    """The rows as CSV in `LEADERBOARD_KEYS` order; lists and dicts as compact JSON strings."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEADERBOARD_KEYS)
    for row in rows:
        values = row.to_dict()
        writer.writerow("" if values[k] is None else _csv_cell(values[k]) for k in LEADERBOARD_KEYS)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"))
    return value


class RunFolder:
    """The files of one search run (see the module docstring), as one ``stage`` keeps its books.

    The stages share the leaderboard (rows carry their `TrialRow.stage`), the config and Ray's folder;
    each has its own searcher snapshot, journal and stats, so each resumes on its own. `trials` is the
    stage's rows, `all_trials` every row.
    """

    def __init__(self, path: Path, stage: str = "search") -> None:
        self.path = path
        self.stage = stage
        books = "searcher" if stage == "search" else stage
        self.config = path / "config.json"
        self.searcher_state = path / f"{books}_state.json"
        self.searcher_journal = path / f"{books}_journal.jsonl"
        self.trials_jsonl = path / "trials.jsonl"
        self.trials_csv = path / "trials.csv"
        self.stats_jsonl = path / f"{books}_stats.jsonl"
        self.warm_start = path / "warm_start.json"
        self.best_genotype = path / "best_genotype.json"
        self.ray_dir = path / "ray"
        self._best: TrialRow | None = None
        self._best_known = False  # whether `_best` reflects the rows on disk
        self._stage_rows: list[TrialRow] = []  # this stage's rows, once known (the selection's choice)

    def is_run(self) -> bool:
        """A run is a folder whose ``config.json`` was written by `nas search`."""
        return self.config.is_file()

    def stage_folder(self, stage: str) -> RunFolder:
        """The same run folder as stage ``stage`` keeps its books (``select``: `nas.search.selection`)."""
        return RunFolder(self.path, stage)

    def all_trials(self) -> list[TrialRow]:
        """Every row of every stage, in completion order (reads the whole file: once per run, not per child)."""
        return [TrialRow.from_dict(r) for r in read_jsonl(self.trials_jsonl)]

    def trials(self) -> list[TrialRow]:
        """This stage's rows, in completion order."""
        rows = [r for r in self.all_trials() if r.stage == self.stage]
        self._best, self._best_known, self._stage_rows = best_cell(rows), True, list(rows)
        return rows

    def add_trial(self, row: TrialRow) -> None:
        """Append one child's row and, if it is the new best, rewrite ``best_genotype.json``.

        The row is fsynced before anything else learns of the child: ``trials.jsonl`` is the truth a
        resume reconciles the searcher with. The best so far is kept in memory, so no row is re-read.
        """
        if not self._best_known:
            self.trials()
        append_jsonl(self.trials_jsonl, row.to_dict())
        self._stage_rows.append(row)
        if self.stage == "select":  # the best mean over each cell's seeds (`nas.results.selection`)
            self.write_selected()
            return
        # a retrained sample moves its cell's mean (--retrain-duplicates): the best is chosen again
        top = best_cell(self._stage_rows) if is_retrained(row) else best([self._best, row])
        if top is not None and top is not self._best:
            self._best = top
            atomic_write_text(self.best_genotype, json.dumps(top.genotype, indent=2) + "\n")

    def write_selected(self) -> None:
        """Write ``best_genotype.json`` as the selection's choice (`nas.results.selection.selected`),
        when the selection stage has one; a resume rewrites it, so a kill in between loses nothing."""
        from nas.results.selection import selected

        if not self._best_known:
            self.trials()
        choice = selected(self._stage_rows)
        if choice is not None:
            atomic_write_text(self.best_genotype, json.dumps(choice.genotype, indent=2) + "\n")

    def append_stats(self, record: Mapping[str, Any]) -> None:
        """One line of ``searcher_stats.jsonl``; made durable by the searcher's next snapshot."""
        append_jsonl(self.stats_jsonl, record, sync=False)

    def write_csv(self, rows: Iterable[TrialRow] | None = None) -> None:
        """Write ``trials.csv`` from ``rows`` (default: the leaderboard): at the end of a run, on demand."""
        atomic_write_text(self.trials_csv, leaderboard_csv(self.all_trials() if rows is None else rows))


def read_searcher_journal(state: Path, journal: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The one reader of a searcher's snapshot and journal (`nas.searcher.checkpoint.SearcherCheckpoint`
    writes them): the snapshot (None before the first), and the journal's events from the snapshot's
    ``journal_seq`` on, in order. Events before it are already in the snapshot (a kill fell between
    writing it and emptying the journal); a gap in the sequence is a `RunFolderError`.
    """
    snapshot = read_json(state) if state.exists() else None
    start = seq = int(snapshot.get("journal_seq", 0)) if snapshot is not None else 0
    events: list[dict[str, Any]] = []
    for event in read_jsonl(journal):
        if int(event["seq"]) < start:
            continue
        if int(event["seq"]) != seq:
            raise RunFolderError(f"{journal}: event {event['seq']} follows {seq - 1}; the journal has a gap")
        events.append(event)
        seq += 1
    return snapshot, events


def journaled_ledger(run: RunFolder) -> tuple[set[str], set[str]]:
    """The ids the searcher was told and those it holds outstanding, from its snapshot and the journal
    after it (`read_searcher_journal`), without building the searcher: for checks of a run's history
    before a resume."""
    state, events = read_searcher_journal(run.searcher_state, run.searcher_journal)
    ledger = (state or {}).get("ledger", {})
    told = {str(t) for t in ledger.get("told", [])}
    outstanding = {str(t) for t in ledger.get("outstanding", {})}
    for event in events:
        if "ask" in event:
            outstanding.add(str(event["ask"]))
        else:
            outstanding.discard(str(event["tell"]))
            told.add(str(event["tell"]))
    return told, outstanding


# Read side: the integrity of a run's history, checked before a resume (and by `nas report`).

_REPAIR = (
    "restore the file from a backup (trials.csv holds the same rows), or start a new run with another --name"
)


class RunFolderError(NasError):
    """A run folder's files are damaged or disagree; the message says which and how to repair it."""


def read_run_config(run: RunFolder) -> dict[str, Any]:
    """``config.json`` as a mapping of settings; unreadable, not JSON or not an object: `RunFolderError`."""
    try:
        data = json.loads(run.config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunFolderError(f"{run.config}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunFolderError(
            f"{run.config}: not valid JSON ({_reason(exc)}); restore it from a backup or start a new run"
        ) from None
    if not isinstance(data, dict):
        raise RunFolderError(
            f"{run.config}: expected a JSON object of settings, got a {type(data).__name__}; "
            "restore it from a backup or start a new run"
        )
    return data


def read_leaderboard(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of ``trials.jsonl`` and the text of a torn last line (None when the file is whole).

    Every line but the last must be a leaderboard row (an object with `LEADERBOARD_KEYS`): a bad line
    in the middle is damage, not an interrupted write, and is refused with `RunFolderError`.
    """
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read it ({_reason(exc)}); {_REPAIR}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    rows: list[dict[str, Any]] = []
    for position, (number, line) in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if position == len(lines) and not text.endswith("\n"):
                return rows, line
            raise RunFolderError(f"{path}:{number}: not a JSON object ({_reason(exc)}); {_REPAIR}") from None
        missing = set(REQUIRED_KEYS) - set(row) if isinstance(row, dict) else set(REQUIRED_KEYS)
        if missing or row["status"] not in get_args(TrialStatus):
            raise RunFolderError(
                f"{path}:{number}: not a leaderboard row (missing or bad {', '.join(sorted(missing)) or 'status'}); "
                f"{_REPAIR}"
            )
        rows.append(row)
    return rows, None


def check_history(run: RunFolder) -> str | None:
    """Refuse a run whose leaderboard and searcher state disagree, before a resume starts Ray.

    The leaderboard (``trials.jsonl``) is the truth and the searcher state says which children were
    told: a child told yet absent from the leaderboard would be lost, and an emptied leaderboard would
    restart the search over done children. The one repair made here is of a torn last line (an
    interrupted append): it is moved to ``trials.jsonl.torn`` and its child, still outstanding in the
    searcher state, is rerun; a torn child the searcher was already told is restored from
    ``trials.csv`` when that holds it, else refused. Returns a note of the repair made, if any.
    """
    rows, torn = read_leaderboard(run.trials_jsonl)
    ids = {str(r["trial_id"]) for r in rows if r.get("stage", "search") == run.stage}
    told, outstanding = _ledger_ids(run, have_rows=bool(ids or (torn and run.stage == "search")))
    strangers = sorted(ids - told - outstanding)
    if strangers:
        raise RunFolderError(
            f"{run.searcher_state} does not know child(ren) {_ids(strangers)} of {run.trials_jsonl}: "
            "the state comes from another run or an older copy; restore the matching file or start a new run"
        )
    lost = told - ids
    restored: dict[str, Any] | None = None
    if torn is not None and lost:
        restored = _row_from_csv(run.trials_csv, lost, run.stage) if len(lost) == 1 else None
        if restored is None:
            raise RunFolderError(
                f"{run.trials_jsonl}: the last line is torn and {run.searcher_state.name} says child(ren) "
                f"{_ids(lost)} were told, so their results would be lost; {_REPAIR}"
            )
        lost = set()
    if lost:
        raise RunFolderError(
            f"{run.trials_jsonl} holds {len(ids)} {'' if run.stage == 'search' else run.stage + ' '}children but {run.searcher_state.name} says "
            f"{len(told)} were told ({_ids(lost)} missing): the leaderboard was emptied or replaced; {_REPAIR}"
        )
    if torn is None:
        return None
    atomic_write_text(run.path / "trials.jsonl.torn", torn + "\n")
    kept = [*rows, restored] if restored is not None else rows
    atomic_write_text(run.trials_jsonl, "".join(json.dumps(r) + "\n" for r in kept))
    if restored is not None:
        return f"{run.trials_jsonl}: its torn last line (child {restored['trial_id']}) was restored from trials.csv"
    return f"{run.trials_jsonl}: a torn last line was moved to trials.jsonl.torn; its child is rerun"


def _ledger_ids(run: RunFolder, *, have_rows: bool) -> tuple[set[str], set[str]]:
    """Ids of the children the searcher was told, and of those it holds outstanding (its snapshot,
    if one was written yet, and the journal of asks and tells after it)."""
    if not run.searcher_state.exists() and not run.searcher_journal.exists():
        if have_rows:
            raise RunFolderError(
                f"{run.searcher_state} is missing but {run.trials_jsonl.name} holds children: the searcher's "
                "memory cannot be rebuilt from the leaderboard; restore the file or start a new run"
            )
        return set(), set()
    how = "restore it from a backup or start a new run (the searcher's memory cannot be rebuilt)"
    if run.searcher_state.exists():
        try:
            state = json.loads(run.searcher_state.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise RunFolderError(f"{run.searcher_state}: not readable JSON ({_reason(exc)}); {how}") from None
        ledger = state.get("ledger") if isinstance(state, dict) else None
        told = ledger.get("told") if isinstance(ledger, dict) else None
        outstanding = ledger.get("outstanding") if isinstance(ledger, dict) else None
        if not isinstance(told, list) or not isinstance(outstanding, dict):
            raise RunFolderError(
                f"{run.searcher_state}: not a searcher state (no ledger of told children); {how}"
            )
    try:
        return journaled_ledger(run)
    except (NasError, KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(f"{run.searcher_journal}: not a searcher journal ({exc}); {how}") from None


def _row_from_csv(path: Path, wanted: set[str], stage: str = "search") -> dict[str, Any] | None:
    """The leaderboard row of the one child of ``stage`` in ``wanted`` from ``trials.csv``, typed back
    as in JSONL."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            found = [
                r
                for r in csv.DictReader(f)
                if r.get("trial_id") in wanted and (r.get("stage") or "search") == stage
            ]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(found) != 1 or not set(REQUIRED_KEYS) <= set(found[0]) <= set(LEADERBOARD_KEYS):
        return None
    row: dict[str, Any] = {}
    for key in found[0]:
        cell = found[0][key]
        if key in ("trial_id", "status", "error", "searcher", "arch", "duplicate_of", "score_by", "stage"):
            row[key] = cell or None if key in ("error", "arch", "duplicate_of") else cell
            continue
        try:
            row[key] = None if cell == "" else json.loads(cell)
        except json.JSONDecodeError:
            return None
    return row


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "msg", None) or type(exc).__name__


def _ids(ids: Any) -> str:
    shown_ids = sorted(ids, key=lambda t: (len(t), t))
    return shown(", ".join(shown_ids[:10]) + (", ..." if len(shown_ids) > 10 else ""))
