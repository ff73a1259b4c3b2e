"""`bench/chaos_stages.py`'s kill plans land in the stage each is meant for, for any seed; bad input is
refused. The bench's own run (minutes: real weight-sharing and selection searches killed and resumed)
is docs/clusters.md's; the suite kills each stage in tests/search (test_weight_sharing_search.py,
test_search_e2e.py)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench import chaos_stages as cs

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos_stages.py"


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("kills", [1, 2, 3])
def test_kill_plans_fall_in_their_stages(seed: int, kills: int) -> None:
    ws = cs.ws_plan(random.Random(seed), kills)
    rewards = cs.EPOCHS * cs.STEPS * cs.ARCHS
    supernet = [m.lines for m in ws if m.file == "supernet/epochs.jsonl"]
    scoring = [m.lines for m in ws if m.file == "ws_scores.jsonl"]
    verify = [m.lines for m in ws if m.file == "trials.jsonl"]
    assert len(supernet) == len(scoring) == kills and verify == [1]
    assert all(1 <= n < cs.EPOCHS for n in supernet)  # after an epoch, before the last
    assert all(rewards < n < rewards + cs.CANDIDATES for n in scoring)  # inside rung 0's scores
    assert len(set(supernet)) == len(supernet) and len(set(scoring)) == len(scoring)

    select = cs.select_plan(random.Random(seed), kills)
    lines = [m.lines for m in select]
    assert lines == sorted(lines) and len(set(lines)) == 2 * kills
    assert sum(n < cs.TRIALS for n in lines) == kills  # among the search's children
    assert sum(cs.TRIALS < n < cs.TRIALS + cs.TOP * cs.SEEDS for n in lines) == kills  # the selection's


@pytest.mark.parametrize("flags", [["--kills", "0"], ["--kills", "9"], ["--stage", "nope"]])
def test_bad_input_is_exit_2(flags: list[str]) -> None:
    done = subprocess.run([sys.executable, str(BENCH), *flags], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("chaos_stages.py: error:")
