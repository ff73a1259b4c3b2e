"""`bench/searchers.py --objective nats-bench` at tiny settings: every searcher runs against the real
NAS-Bench-201 table and the output ends with the summary line, so the script cannot rot between the
long runs whose figures docs/benchmarks.md quotes. The figures mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas.search.searcher import searcher_names

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "searchers.py"


def run_bench(table: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(BENCH), "--objective", "nats-bench", "--table", str(table), *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_tiny_run_reports_every_searcher_and_the_summary(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--seeds", "2", "--children", "30", "--noise", "1.0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("children"))
    assert set(header.split()[1:]) == set(searcher_names())
    assert lines[-1].startswith("nats_goals_met: ")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_json_counts_evaluated_children(nb201_table_path: Path) -> None:
    flags = ["--seeds", "2", "--first-seed", "5", "--children", "30", "--tell-lag", "3", "--json"]
    done = run_bench(nb201_table_path, *flags)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["seeds"] == [5, 6]  # another set of seeds, to check a default tuned on seeds 0-29
    assert out["tell_lag"] == 3  # as nas search with two children at a time on a CPU
    for name in searcher_names():
        row = out["summary"][name]["30"]
        assert row["distinct"] == 30  # the budget counts distinct, evaluated cells
        assert 0 <= row["hits"] <= 2 and row["mean"] <= out["optimum"]


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_selection_stage_spends_the_end_of_the_budget(nb201_table_path: Path) -> None:
    flags = ["--seeds", "2", "--children", "30", "--noise", "1.0", "--select-top", "3", "--select-evals", "2"]
    done = run_bench(nb201_table_path, *flags, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["select"] == {"top": 3, "evals": 2}
    for name in searcher_names():
        row = out["summary"][name]["30"]
        assert row["distinct"] == 24  # 6 of the 30 children re-evaluate the 3 best cells twice each
        assert row["mean"] <= out["optimum"]


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_retrained_duplicates_cost_budget_and_report_by_mean(nb201_table_path: Path) -> None:
    flags = ["--seeds", "2", "--children", "30", "--noise", "1.0", "--retrain-duplicates", "--json"]
    done = run_bench(nb201_table_path, *flags)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["retrain_duplicates"] is True
    assert out["max_samples"] == 3  # nas search's default
    assert all(0 < out["summary"][n]["30"]["mean"] <= out["optimum"] for n in searcher_names())
    sys.path.insert(0, str(BENCH.parent))
    from searchers import nats_run

    from nas.space.nb201_table import load_table
    from search_spaces import get_space

    space, table = get_space("nas-bench-201"), load_table(nb201_table_path)
    run = nats_run("rl", space, table, 0, 60, 1.0, {}, max_samples=1000)
    assert len(run["reported"]) == 60 and run["duplicates"] == 0  # every repeat evaluated, in the budget
    assert run["distinct"][-1] < 60  # the controller repeats itself within 60 children
    assert all(a <= b <= a + 1 for a, b in zip(run["distinct"], run["distinct"][1:], strict=False))
    capped = nats_run("rl", space, table, 0, 100, 1.0, {}, max_samples=2)
    assert capped["duplicates"] > 0 and len(capped["reported"]) == 100  # a third sample is told
    told = nats_run("rl", space, table, 0, 60, 1.0, {})
    assert told["distinct"][-1] == 60 and told["duplicates"] > 0  # repeats told, not counted


def test_model_pick_prefers_a_cell_its_neighbours_vouch_for() -> None:
    """Under noise a lone lucky cell should lose to a slightly lower one whose decisions score well
    across the other cells: `model_pick` shrinks each observation halfway to a ridge model's."""
    sys.path.insert(0, str(BENCH.parent))
    from searchers import model_pick

    from search_spaces import get_space

    space = get_space("nas-bench-201")
    good, lone = (3,) * 6, (4,) * 6
    neighbours = [tuple(1 if i == j else 3 for i in range(6)) for j in range(6)]
    poor = [tuple(4 if i == j else 2 for i in range(6)) for j in range(6)]
    cells = [lone, good, *neighbours, *poor]
    observed = [94.0, 93.9] + [93.5] * 6 + [80.0] * 6
    assert max(range(len(cells)), key=observed.__getitem__) == 0  # the best observed: the lone cell
    assert model_pick(cells, observed, space) == 1
    assert model_pick([good], [93.9], space) == 0


@pytest.mark.timeout(60)
def test_model_report_names_an_evaluated_cell(nb201_table_path: Path) -> None:
    sys.path.insert(0, str(BENCH.parent))
    from searchers import nats_run

    from nas.space.nb201_table import load_table
    from search_spaces import get_space

    space, table = get_space("nas-bench-201"), load_table(nb201_table_path)
    best = nats_run("evolution", space, table, 3, 40, 1.0, {})
    model = nats_run("evolution", space, table, 3, 40, 1.0, {}, report="model")
    assert model["distinct"] == best["distinct"]  # the same search; only the reported cell differs
    assert 0 < min(model["reported"]) and max(model["reported"]) <= table.best()[1]
    assert model["reported"] != best["reported"]  # on this seed the model recommends another cell


def test_negative_noise_is_a_usage_error(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--noise", "-1")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith("--noise must be >= 0")
    done = run_bench(nb201_table_path, "--tell-lag", "0")
    assert done.returncode == 2 and "--tell-lag must be >= 1" in done.stderr.strip().splitlines()[-1]
    done = run_bench(nb201_table_path, "--retrain-duplicates", "--max-samples", "0")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith(
        "--max-samples must be >= 1"
    )
    done = run_bench(nb201_table_path, "--children", "30", "--select-top", "10", "--select-evals", "3")
    assert done.returncode == 2 and "K * S < --children" in done.stderr.strip().splitlines()[-1]
    done = run_bench(nb201_table_path, "--retrain-duplicates", "--select-top", "2")
    assert done.returncode == 2 and "without --warm-start or --select-top" in done.stderr.splitlines()[-1]
    done = run_bench(nb201_table_path, "--report", "model", "--retrain-duplicates")
    assert done.returncode == 2 and "--report model applies to" in done.stderr.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_warm_start_comparison_pairs_every_searcher(nb201_table_path: Path, cifar_dir: Path) -> None:
    flags = [
        "--seeds",
        "2",
        "--first-seed",
        "3",
        "--children",
        "10",
        "--noise",
        "1.0",
        "--warm-start",
        "synflow:8:3",
    ]
    done = run_bench(nb201_table_path, *flags, "--data-dir", str(cifar_dir), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out["summary"]) == set(searcher_names())
    for row in out["summary"].values():
        assert row["cold"]["distinct"] == row["warm"]["distinct"] == 10  # warm children count in the budget
        assert row["better"] + row["worse"] <= 2
    assert out["warm_start_better"].endswith(f"/{len(searcher_names()) - 1}")


def test_a_bad_warm_start_is_one_line_and_exit_2(nb201_table_path: Path) -> None:
    done = run_bench(nb201_table_path, "--warm-start", "bogus:3")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "unknown proxy" in done.stderr
