"""Chaos: a long tabular search killed again and again, and still every child exactly once (issue 28).

A NAS-Bench-201 search answered from the table (Dong & Yang 2020: children that cost milliseconds, so
thousands of them fit here) runs through real local Ray as a user types it (``nas search ...``, the
console script beside this interpreter). At seeded random moments -- after a random number of new
leaderboard rows -- the driver is killed -9 (its process group and the Ray processes below it, by
pid) and resumed with the README's command, ``nas search --resume RUN_DIR``; at as many other moments
a Ray worker running a child is killed -9 while the search goes on. At the end, per searcher: the
children evaluated (``duplicate_of`` null) are exactly ``--trials``, no cell among them twice, every
told duplicate names an earlier row of its cell, the searcher's journal told every row and has none
outstanding, and ``nas report`` builds. These are the failures that cost days on a cluster: a child
lost, or trained twice and counted twice, after a crash.

    python bench/chaos.py                          # 4 searchers x 2,000 children, 10 + 10 kills each
    python bench/chaos.py --searchers random --trials 200 --driver-kills 2 --worker-kills 2 --json
    python bench/chaos.py --searchers rl --trials 400 --max-samples 3   # with --retrain-duplicates
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.processes import alive, cmdline, descendants, kill_9  # noqa: E402
from nas.results.duplicates import MAX_CONSECUTIVE_DUPLICATES  # noqa: E402
from nas.results.run_folder import RunFolder, journaled_ledger, read_jsonl  # noqa: E402
from nas.space.nb201_table import ENV_VAR, load_table  # noqa: E402

NAS = str(Path(sys.executable).with_name("nas"))
TABLE = Path(
    os.environ.get(ENV_VAR) or REPO_ROOT.parent / "shared" / "data" / "nats-bench" / "nats_bench_tss.csv"
)
SEARCHERS = ("rl", "evolution", "tpe", "random")
WORKER_MARKS = ("ray::ImplicitFunc", "ray::train_trial")  # a Ray worker running a child (its task name)
STALL_S = 300.0  # no new row for this long: the search hangs, which is a failure of its own


@dataclass
class Audit:
    """What the run folder holds after the chaos: the figures, and what is wrong (empty: exactly once)."""

    children: int  # rows evaluated (duplicate_of null), failed ones included: --trials counts them
    ended_early: bool  # the searcher settled: only cells already evaluated, the search ended itself
    distinct: int  # distinct cells among them
    rows: int  # every row, told duplicates included
    failed: int  # children whose worker was killed under them (Tune's retries exhausted): failed, with why
    problems: list[str] = field(default_factory=list)


def audit(
    run_dir: Path, trials: int, table: Path, *, ended_early: int | None = None, max_samples: int = 1
) -> Audit:
    """Exactly once, from the run folder alone: ``trials`` children of ``trials`` distinct cells (the
    row's ``arch``, the space's canonical cell), each completed one answered from the table, each failed
    one saying why, each duplicate told the result of an earlier row of its cell (never trained), and the
    searcher's journal told every row with none outstanding.

    ``ended_early``: the search said it ended with that many children, its searcher proposing only
    cells already evaluated (`nas.results.duplicates.MAX_CONSECUTIVE_DUPLICATES` in a row: an RL
    controller that has settled). Then that many children are expected, and at least as many told
    duplicates as the rule needs.

    ``max_samples`` above 1 (``--retrain-duplicates --max-samples``): a cell may be trained up to that
    many times, each retrained row naming its first; a cell told its record has all of them."""
    rows = read_jsonl(run_dir / "trials.jsonl")
    samples: dict[str, int] = {}
    bench = load_table(table)
    first: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    children = failed = 0
    for row in rows:
        tid, arch = row["trial_id"], row["arch"]
        if arch != row["genotype"]["arch"]:
            problems.append(f"{tid}: arch {arch} is not its genotype's")
        retrained = row["duplicate_of"] is not None and bool(row.get("retrained")) and max_samples > 1
        if row["duplicate_of"] is not None:
            recorded = first.get(arch)
            if recorded is None or recorded["trial_id"] != row["duplicate_of"]:
                problems.append(f"{tid}: duplicate_of {row['duplicate_of']} is not its cell's row")
            elif retrained:
                pass  # a sample of its own, checked as a child below
            elif row["wall_s"] is not None or row["epochs_done"] != 0 or row["status"] != recorded["status"]:
                problems.append(f"{tid}: a told duplicate was trained, or told another outcome")
            if not retrained:
                continue
        children += 1
        samples[arch] = samples.get(arch, 0) + 1
        if samples[arch] > max_samples:
            problems.append(
                f"cell {arch} evaluated {samples[arch]} times ({first[arch]['trial_id']} and {tid})"
            )
        first.setdefault(arch, row)
        if row["status"] == "failed" and row["error"]:
            failed += 1
        elif row["status"] != "completed":
            problems.append(f"{tid}: {row['status']} ({row['error']})")
        elif not row["val_accuracy"] == row["table_accuracy"] == bench.accuracy(arch) / 100:
            problems.append(f"{tid}: val_accuracy {row['val_accuracy']} is not the table's")
    told_early = {r["arch"] for r in rows if r["duplicate_of"] and not r.get("retrained")} - {
        a for a, n in samples.items() if n == max_samples
    }
    if told_early:
        problems.append(f"{len(told_early)} cells told their record before {max_samples} samples")
    expected = trials if ended_early is None else ended_early
    if children != expected:
        problems.append(f"{children} children evaluated, not {expected}")
    if ended_early is not None and len(rows) - children < MAX_CONSECUTIVE_DUPLICATES:
        problems.append(f"ended early with {len(rows) - children} told duplicates, fewer than the rule's")
    told, outstanding = journaled_ledger(RunFolder(run_dir))
    if told != {r["trial_id"] for r in rows}:
        problems.append(f"the journal told {len(told)} trials, the leaderboard has {len(rows)} rows")
    if outstanding:
        problems.append(f"{len(outstanding)} trials outstanding in the journal")
    return Audit(
        children=children,
        distinct=len(first),
        ended_early=ended_early is not None,
        rows=len(rows),
        failed=failed,
        problems=problems,
    )


@dataclass
class Chaos:
    """One searcher's chaos run: the audit plus what was done to it."""

    searcher: str
    trials: int
    audit: Audit
    driver_kills: int
    worker_kills: int
    resumes: int
    report_builds: bool
    wall_s: float

    @property
    def exactly_once(self) -> bool:
        return not self.audit.problems and self.report_builds


def kill_plan(rng: random.Random, trials: int, driver_kills: int, worker_kills: int) -> list[tuple[int, str]]:
    """When to kill what: distinct leaderboard row counts below ``trials`` (every one is reached, as a
    finished run has at least ``trials`` rows), each a driver or a worker kill, in seeded random order."""
    kinds = ["driver"] * driver_kills + ["worker"] * worker_kills
    rng.shuffle(kinds)
    moments = sorted(rng.sample(range(1, trials), len(kinds)))
    return list(zip(moments, kinds, strict=True))


def busy_worker(driver: int) -> int | None:
    """A Ray worker below ``driver`` that runs a child now, or None."""
    for pid in sorted(descendants(driver)):
        if any(mark in cmdline(pid) for mark in WORKER_MARKS) and alive(pid):
            return pid
    return None


def row_count(path: Path) -> int:
    """Lines in the leaderboard so far (cheap enough to poll; the audit parses them)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def start(argv: list[str], log: IO[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``argv`` in its own session (so kill -9 reaches its group), output appended to ``log``."""
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    return subprocess.Popen(argv, stdout=log, stderr=log, text=True, env=env, start_new_session=True)


def resume_argv(run_dir: Path) -> list[str]:
    """The README's resume command, ``nas search --resume results/<run>``, quiet."""
    return [NAS, "search", "--resume", str(run_dir), "--quiet"]


def chaos_search(
    searcher: str,
    *,
    trials: int,
    driver_kills: int,
    worker_kills: int,
    table: Path,
    results: Path,
    seed: int,
    max_samples: int = 1,
) -> Chaos:
    """Run one searcher's search to the end through the kill plan, resuming after each driver kill
    (``max_samples`` above 1: with ``--retrain-duplicates --max-samples``)."""
    rng = random.Random(f"{seed}-{searcher}")
    plan = kill_plan(rng, trials, driver_kills, worker_kills)
    run_dir = results / searcher
    leaderboard = run_dir / "trials.jsonl"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    first = [NAS, "search", "--space", "nas-bench-201", "--benchmark", str(table), "--searcher", searcher]
    first += ["--trials", str(trials), "--wandb", "disabled", "--quiet"]
    first += ["--results-dir", str(results), "--name", searcher]
    first += ["--retrain-duplicates", "--max-samples", str(max_samples)] if max_samples > 1 else []
    resume = resume_argv(run_dir)
    done = {"driver": 0, "worker": 0}
    began = time.monotonic()
    with (results / f"{searcher}.log").open("a") as log:
        proc = start(first, log, env)
        last_rows, last_change = 0, time.monotonic()
        try:
            while proc.poll() is None:
                rows = row_count(leaderboard)
                if rows != last_rows:
                    last_rows, last_change = rows, time.monotonic()
                if time.monotonic() - last_change > STALL_S:
                    raise RuntimeError(f"{searcher}: no new row in {STALL_S:.0f} s (see {log.name})")
                if plan and rows >= plan[0][0]:
                    if plan[0][1] == "driver":
                        kill_9(proc)
                        proc = start(resume, log, env)
                        plan.pop(0)
                        done["driver"] += 1
                    elif (pid := busy_worker(proc.pid)) is not None:
                        os.kill(pid, signal.SIGKILL)
                        plan.pop(0)
                        done["worker"] += 1
                time.sleep(0.02 if plan else 0.2)
        finally:
            if proc.poll() is None:
                kill_9(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{searcher}: the search exited {proc.returncode} (see {log.name})")
        wall = time.monotonic() - began
        report = subprocess.run(
            [NAS, "report", str(run_dir), "--out", str(results / f"{searcher}-report")],
            stdout=log,
            stderr=log,
            env=env,
            timeout=600,
        )
    return Chaos(
        searcher=searcher,
        trials=trials,
        audit=audit(
            run_dir,
            trials,
            table,
            ended_early=ended_early((results / f"{searcher}.log").read_text(), trials),
            max_samples=max_samples,
        ),
        driver_kills=done["driver"],
        worker_kills=done["worker"],
        resumes=done["driver"],
        report_builds=report.returncode == 0,
        wall_s=round(wall, 1),
    )


def ended_early(output: str, trials: int) -> int | None:
    """The children a search said it ended with when its searcher proposed only evaluated cells (its
    last such line in ``output``, what it printed), or None: it ran its ``trials``."""
    found = re.findall(rf"the search ends with (\d+) of {trials} children evaluated", output)
    return int(found[-1]) if found else None


def table_lines(runs: Sequence[Chaos]) -> list[str]:
    """The figures, one row per searcher (the table docs/clusters.md quotes)."""
    head = "| searcher | children | distinct | rows | failed | driver kills | worker kills | resumes | report | wall |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for c in runs:
        a = c.audit
        lines.append(
            f"| {c.searcher} | {a.children}{' (settled)' if a.ended_early else ''} | {a.distinct} | {a.rows} | {a.failed} | {c.driver_kills} | {c.worker_kills} "
            f"| {c.resumes} | {'builds' if c.report_builds else 'FAILS'} | {c.wall_s:.0f} s |"
        )
    for c in runs:
        lines += [f"{c.searcher}: {p}" for p in c.audit.problems]
    return lines


def summary(runs: Sequence[Chaos]) -> str:
    """The one closing line: every searcher exactly once, or which were not."""
    failed = [c.searcher for c in runs if not c.exactly_once]
    trials = sorted({c.trials for c in runs})
    verdict = "yes" if not failed else f"no ({', '.join(failed)})"
    return f"chaos_all_exactly_once: {verdict} ({len(runs)} searchers, {'/'.join(map(str, trials))} children each)"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--searchers", default=",".join(SEARCHERS), help="comma-separated (default: all four)"
    )
    parser.add_argument("--trials", type=int, default=2000, help="children per searcher (default 2000)")
    parser.add_argument("--driver-kills", type=int, default=10, help="kill -9 of the driver, then --resume")
    parser.add_argument("--worker-kills", type=int, default=10, help="kill -9 of a Ray worker mid-child")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments (default 0)")
    parser.add_argument("--benchmark", type=Path, default=TABLE, help="the NAS-Bench-201 table")
    parser.add_argument("--results-dir", type=Path, help="keep the runs here (default: a temporary folder)")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=1,
        help="above 1: search with --retrain-duplicates --max-samples M (default 1: duplicates told)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    searchers = args.searchers.split(",")
    if unknown := sorted(set(searchers) - set(SEARCHERS)):
        parser.error(f"--searchers: unknown {', '.join(unknown)} (choose from {', '.join(SEARCHERS)})")
    if args.driver_kills < 0 or args.worker_kills < 0 or args.driver_kills + args.worker_kills >= args.trials:
        parser.error("--driver-kills and --worker-kills: at least 0 each, and fewer in all than --trials")
    if not args.benchmark.is_file():
        parser.error(f"--benchmark: {args.benchmark} is not a file")
    if args.max_samples < 1:
        parser.error("--max-samples: at least 1")
    args.searchers = searchers
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nas-chaos-") as tmp:
        results = args.results_dir or Path(tmp)
        results.mkdir(parents=True, exist_ok=True)
        runs = [
            chaos_search(
                s,
                trials=args.trials,
                driver_kills=args.driver_kills,
                worker_kills=args.worker_kills,
                table=args.benchmark,
                results=results,
                seed=args.seed,
                max_samples=args.max_samples,
            )
            for s in args.searchers
        ]
    if args.json:
        out: dict[str, Any] = {c.searcher: {**asdict(c), "exactly_once": c.exactly_once} for c in runs}
        print(json.dumps({**out, "summary": summary(runs)}))
    else:
        print("\n".join([*table_lines(runs), summary(runs)]))
    return 0 if all(c.exactly_once for c in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
