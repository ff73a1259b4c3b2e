"""A searcher's state on disk: a JSON snapshot now and then, and a journal of the asks and tells since.

See `SearcherCheckpoint`; `nas.results.run_folder` holds the files' paths and the appends.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.errors import ConfigError
from nas.results.run_folder import append_jsonl, read_searcher_journal, sync_file, write_json
from nas.results.trial import TrialResult
from nas.searcher.base import Proposal, Searcher


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
        state, events = read_searcher_journal(self.state, self.journal)
        if state is not None:
            searcher.load_state_dict(state)
        self.seq = int(state.get("journal_seq", 0)) if state is not None else 0
        for event in events:
            if "ask" in event:
                choices = [int(c) for c in event["choices"]]
                searcher.restore_ask(str(event["ask"]), choices, given=bool(event.get("given", False)))
            else:
                searcher.restore_tell(str(event["tell"]), TrialResult(**event["result"]))
            self.seq += 1
        return len(events)

    def asked(self, proposal: Proposal, *, given: bool = False) -> None:
        """Journal an ask; ``given``: an `Searcher.ask_with` (a warm-started child), redone as one."""
        event: dict[str, Any] = {"ask": proposal.trial_id, "choices": list(proposal.choices)}
        if given:
            event["given"] = True
        self._append(event, sync=True)

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
