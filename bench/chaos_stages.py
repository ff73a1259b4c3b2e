"""Chaos in the stages around the children: the weight-sharing search and the selection stage (issue 28).

`bench/chaos.py` kills a tabular search among its children. The other stages keep books of their own,
and a kill there must lose nothing either:

- ``--weight-sharing`` (ENAS): the supernet stage (one epoch line per epoch, a checkpoint, the
  searcher's state), candidate scoring by successive halving (a row per candidate and rung in
  ``ws_scores.jsonl``) and the verified children (leaderboard rows ``v0``, ``v1``, ...).
- ``--select-top`` (NASNet's selection): the search's children, then each selected cell retrained
  ``--select-seeds`` times (rows of stage ``select``), ``best_genotype.json`` the best mean.

Each run is a real ``nas search`` through local Ray on real CIFAR-10 at tiny sizes, killed -9 (its
process group and the Ray processes below it) at seeded random moments spread over its stages, each
time resumed with the README's ``nas search --resume RUN_DIR``. Then its run folder is audited: every
epoch, score row and child once, the verified or selected cells the ones the books say, and ``nas
report`` builds. One summary line.

    python bench/chaos_stages.py                      # both stages, 2 kills per stage
    python bench/chaos_stages.py --stage ws --kills 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.chaos import resume_argv, row_count, start  # noqa: E402
from bench.processes import kill_9  # noqa: E402
from nas.results.run_folder import read_jsonl  # noqa: E402
from nas.results.selection import cell_key  # noqa: E402

NAS = str(Path(sys.executable).with_name("nas"))
DATA = REPO_ROOT.parent / "shared" / "data" / "cifar10"
STALL_S = 300.0  # no progress for this long: the search hangs, a failure of its own

TINY = ["--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2", "--batch-size", "32",
        "--wandb", "disabled", "--quiet", "--max-concurrent", "2"]  # fmt: skip
EPOCHS, STEPS, ARCHS, CANDIDATES, VERIFY = 4, 2, 4, 48, 2  # the weight-sharing run's sizes
TRIALS, TOP, SEEDS = 8, 3, 2  # the selection run's: 8 children, their 3 best cells retrained twice


@dataclass(frozen=True)
class Moment:
    """Kill the driver once ``file`` (relative to the run folder) has ``lines`` lines: a stage's books."""

    file: str
    lines: int


@dataclass
class StageChaos:
    """One stage's chaos run: the kills, the audit's problems (empty: nothing lost, nothing twice)."""

    stage: str
    kills: list[str]
    resumes: int
    report_builds: bool
    wall_s: float
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return not self.problems and self.report_builds


def ws_plan(rng: random.Random, kills: int) -> list[Moment]:
    """``kills`` moments in each of the three weight-sharing stages, in the order they come."""
    searched = EPOCHS * STEPS * ARCHS  # the per-epoch reward rows come first in ws_scores.jsonl
    supernet = [Moment("supernet/epochs.jsonl", n) for n in sorted(rng.sample(range(1, EPOCHS), kills))]
    scoring = [
        Moment("ws_scores.jsonl", searched + n) for n in sorted(rng.sample(range(1, CANDIDATES), kills))
    ]
    verify = [Moment("trials.jsonl", n) for n in range(1, min(kills, VERIFY - 1) + 1)]
    return [*supernet, *scoring, *verify]


def select_plan(rng: random.Random, kills: int) -> list[Moment]:
    """``kills`` moments among the search's children and as many among the selection's."""
    search = sorted(rng.sample(range(1, TRIALS), kills))
    select = sorted(rng.sample(range(TRIALS + 1, TRIALS + TOP * SEEDS), kills))
    return [Moment("trials.jsonl", n) for n in search] + [Moment("trials.jsonl", n) for n in select]


def audit_ws(run_dir: Path) -> tuple[dict[str, int], list[str]]:
    """Every epoch once, every reward and candidate score once, the verified children the best final
    scores, each trained once."""
    problems: list[str] = []
    epochs = [r["epoch"] for r in read_jsonl(run_dir / "supernet" / "epochs.jsonl")]
    if epochs != list(range(1, EPOCHS + 1)):
        problems.append(f"supernet epochs {epochs}, not 1..{EPOCHS} once each")
    scores = read_jsonl(run_dir / "ws_scores.jsonl")
    searched = [r["epoch"] for r in scores if r["stage"] == "search"]
    if searched != [e for e in range(1, EPOCHS + 1) for _ in range(STEPS * ARCHS)]:
        problems.append(f"{len(searched)} reward rows, not {STEPS * ARCHS} per epoch once")
    rungs = [(r["rung"], r["index"]) for r in scores if r["stage"] in ("screen", "final")]
    if len(rungs) != len(set(rungs)):
        problems.append(f"{len(rungs) - len(set(rungs))} candidate scores written twice")
    candidates = json.loads((run_dir / "supernet" / "candidates.json").read_text())
    if sorted(i for rung, i in rungs if rung == 0) != list(range(len(candidates))):
        problems.append("rung 0 did not score every candidate once")
    final = sorted((r for r in scores if r["stage"] == "final"), key=lambda r: (-r["accuracy"], r["index"]))
    rows = read_jsonl(run_dir / "trials.jsonl")
    ids = sorted(r["trial_id"] for r in rows)
    if ids != [f"v{i}" for i in range(VERIFY)]:
        problems.append(f"verified children {ids}, not v0..v{VERIFY - 1} once each")
    by_id = {r["trial_id"]: r for r in rows}
    for i, best in enumerate(final[:VERIFY]):
        row = by_id.get(f"v{i}")
        if row is not None and row["genotype"] != best["genotype"]:
            problems.append(f"v{i} is not the {i + 1}th best final score's cell")
        if row is not None and row["status"] != "completed":
            problems.append(f"v{i}: {row['status']} ({row['error']})")
    counts = {
        "epochs": len(epochs),
        "rewards": len(searched),
        "candidate_scores": len(rungs),
        "verified": len(rows),
    }
    return counts, problems


def audit_select(run_dir: Path) -> tuple[dict[str, int], list[str]]:
    """The search's children once, its TOP best cells each retrained SEEDS times once, the winner the
    best mean selection accuracy."""
    problems: list[str] = []
    rows = read_jsonl(run_dir / "trials.jsonl")
    search = [r for r in rows if r["stage"] == "search" and r["duplicate_of"] is None]
    select = [r for r in rows if r["stage"] == "select"]
    if len({r["trial_id"] for r in search}) != TRIALS or len(search) != TRIALS:
        problems.append(f"{len(search)} search children, not {TRIALS} once each")
    if len({cell_key(r["genotype"]) for r in search}) != len(search):
        problems.append("a cell trained twice in the search")
    scored = sorted(
        (r for r in search if r["status"] == "completed"), key=lambda r: (-r["score"], r["index"])
    )
    top: list[str] = []
    for r in scored:
        if (key := cell_key(r["genotype"])) not in top:
            top.append(key)
    top = top[:TOP]
    seeds_of: dict[str, int] = {}
    for r in select:
        seeds_of[cell_key(r["genotype"])] = seeds_of.get(cell_key(r["genotype"]), 0) + 1
    if sorted(seeds_of) != sorted(top) or set(seeds_of.values()) != {SEEDS}:
        problems.append(
            f"selection children per cell {sorted(seeds_of.values())}, not the top {TOP} x {SEEDS}"
        )
    if len({r["trial_id"] for r in select}) != len(select):
        problems.append("a selection child counted twice")
    means = {k: [r["val_accuracy"] for r in select if cell_key(r["genotype"]) == k] for k in seeds_of}
    if means:
        best = max(means, key=lambda k: sum(means[k]) / len(means[k]))
        chosen = cell_key(json.loads((run_dir / "best_genotype.json").read_text()))
        if chosen != best:
            problems.append("best_genotype.json is not the best mean selection accuracy")
    return {"search_children": len(search), "select_children": len(select)}, problems


def where(run_dir: Path) -> str:
    """The stage a run is in, from its books (what a kill interrupted)."""
    trials = run_dir / "trials.jsonl"
    if (run_dir / "supernet").is_dir():
        if trials.exists():
            return "verify"
        return "scoring" if (run_dir / "supernet" / "candidates.json").exists() else "supernet"
    return "select" if trials.exists() and b'"stage": "select"' in trials.read_bytes() else "search"


def chaos_stage(stage: str, *, kills: int, seed: int, results: Path, data: Path) -> StageChaos:
    """One run of ``stage`` through its kill plan, resumed after each kill, then audited."""
    rng = random.Random(f"{seed}-{stage}")
    name = f"chaos-{stage}"
    run_dir = results / name
    first = [
        NAS,
        "search",
        *TINY,
        "--data-dir",
        str(data),
        "--seed",
        str(seed),
        "--results-dir",
        str(results),
        "--name",
        name,
    ]
    plan: list[Moment]
    check: Callable[[Path], tuple[dict[str, int], list[str]]]
    if stage == "ws":
        first += ["--weight-sharing", "--searcher", "rl", "--epochs", str(EPOCHS), "--train-size", "256",
                  "--val-size", "128", "--ws-controller-steps", str(STEPS), "--ws-archs-per-step", str(ARCHS),
                  "--ws-reward-batch", "16", "--ws-candidates", str(CANDIDATES), "--verify-top", str(VERIFY)]  # fmt: skip
        plan, check = ws_plan(rng, kills), audit_ws
    else:
        first += ["--searcher", "evolution", "--epochs", "1", "--train-size", "256", "--val-size", "128",
                  "--trials", str(TRIALS), "--select-top", str(TOP), "--select-seeds", str(SEEDS),
                  "--select-epochs", "1"]  # fmt: skip
        plan, check = select_plan(rng, kills), audit_select
    resume = resume_argv(run_dir)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done: list[str] = []
    began = time.monotonic()
    with (results / f"{name}.log").open("a") as log:
        proc = start(first, log, env)
        progress, last_change = -1, time.monotonic()
        try:
            while proc.poll() is None:
                now = sum(
                    row_count(run_dir / f)
                    for f in ("supernet/epochs.jsonl", "ws_scores.jsonl", "trials.jsonl")
                )
                if now != progress:
                    progress, last_change = now, time.monotonic()
                if time.monotonic() - last_change > STALL_S:
                    raise RuntimeError(f"{stage}: no progress in {STALL_S:.0f} s (see {log.name})")
                if plan and row_count(run_dir / plan[0].file) >= plan[0].lines:
                    kill_9(proc)
                    moment = plan.pop(0)
                    done.append(f"{where(run_dir)}@{moment.file}:{row_count(run_dir / moment.file)}")
                    proc = start(resume, log, env)
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                kill_9(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{stage}: the search exited {proc.returncode} (see {log.name})")
        wall = time.monotonic() - began
        report = start([NAS, "report", str(run_dir), "--out", str(results / f"{name}-report")], log, env)
        report.wait(timeout=600)
    counts, problems = check(run_dir)
    if plan:
        problems.append(f"{len(plan)} planned kills never came (the stage ended first)")
    return StageChaos(stage, done, len(done), report.returncode == 0, round(wall, 1), counts, problems)


def summary(runs: Sequence[StageChaos]) -> str:
    verdict = "yes" if all(r.exactly_once for r in runs) else "no"
    kills = sum(len(r.kills) for r in runs)
    return f"chaos_stages_exactly_once: {verdict} ({', '.join(r.stage for r in runs)}; {kills} kills in all)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", choices=("ws", "select", "both"), default="both")
    parser.add_argument("--kills", type=int, default=2, help="kill -9 moments per stage (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="the search's seed and the kill moments'")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="CIFAR-10")
    parser.add_argument("--results-dir", type=Path, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = parser.parse_args(argv)
    if not 1 <= args.kills <= min(EPOCHS - 1, TRIALS - 1, TOP * SEEDS - 1):
        parser.error(f"--kills: 1..{min(EPOCHS - 1, TRIALS - 1, TOP * SEEDS - 1)}")
    stages = ["ws", "select"] if args.stage == "both" else [args.stage]
    with tempfile.TemporaryDirectory(prefix="nas-chaos-stages-") as tmp:
        results = args.results_dir or Path(tmp)
        results.mkdir(parents=True, exist_ok=True)
        runs = [
            chaos_stage(s, kills=args.kills, seed=args.seed, results=results, data=args.data_dir)
            for s in stages
        ]
    if args.json:
        print(
            json.dumps(
                {
                    "runs": [asdict(r) | {"exactly_once": r.exactly_once} for r in runs],
                    "summary": summary(runs),
                }
            )
        )
    else:
        for r in runs:
            print(f"{r.stage}: kills {', '.join(r.kills)}; {r.counts}; report {'builds' if r.report_builds else 'FAILS'}; "
                  f"{r.wall_s:.0f} s" + "".join(f"\n  problem: {p}" for p in r.problems))  # fmt: skip
        print(summary(runs))
    return 0 if all(r.exactly_once for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
