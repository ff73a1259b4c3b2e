"""`bench/select_protocol.py`: one tiny trained NB201 search with its selection stage, run as the bench
runs it (a real `nas search` subprocess on local Ray, real CIFAR-10, the real table), and the figures
it prints checked against the run folder it kept. The accuracies mean nothing at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "select_protocol.py"
sys.path.insert(0, str(REPO_ROOT / "bench"))

import select_protocol  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_tiny_run_reports_the_selected_cell_from_its_run_folder(
    tmp_path: Path, cifar_dir: Path, nb201_table_path: Path
) -> None:
    from nas.results.run_folder import read_jsonl
    from nas.space.load import load_genotype
    from nas.space.nb201_table import load_table

    flags = ["--searchers", "random", "--seeds", "1", "--trials", "3", "--select-top", "2"]
    flags += ["--select-epochs", "1", "--benchmark", str(nb201_table_path), "--data-dir", str(cifar_dir)]
    flags += ["--results-dir", str(tmp_path), "--json"]
    flags += ["--search-flags", "--N 1 --C 4 --train-size 256 --val-size 128 --max-concurrent 1"]
    done = subprocess.run([sys.executable, str(BENCH), *flags], capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    [run] = out["runs"]
    assert (run["searcher"], run["seed"], run["children"], run["select_children"]) == ("random", 0, 3, 2)
    table = load_table(nb201_table_path)
    folder = tmp_path / "random-s0"
    assert run["reported"] == pytest.approx(
        table.accuracy(load_genotype(folder / "best_genotype.json")) / 100
    )
    search = [r for r in read_jsonl(folder / "trials.jsonl") if r.get("stage", "search") == "search"]
    assert run["best_trained"] == max(r["table_accuracy"] for r in search)
    assert run["search_only"] in {r["table_accuracy"] for r in search}
    assert out["summary"] == f"select_protocol_reported: random {run['reported'] * 100:.2f}"


def test_the_table_and_summary_line_hold_each_searchers_mean_and_spread() -> None:
    runs = [
        {"searcher": "rl", "reported": 0.93, "search_only": 0.92, "best_trained": 0.94, "wall_s": 10.0},
        {"searcher": "rl", "reported": 0.91, "search_only": 0.90, "best_trained": 0.94, "wall_s": 30.0},
    ]
    lines = select_protocol.table_lines(runs, ["rl"])
    # mean 92.00, sample sd of (93, 91) = 1.41; wall: the mean of 10 s and 30 s
    assert lines[2] == "| rl | 92.00 +- 1.41 | 91.00 +- 1.41 | 94.00 +- 0.00 | 20 s |"
    assert select_protocol.summary(runs, ["rl"]) == "select_protocol_reported: rl 92.00"
