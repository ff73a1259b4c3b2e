"""``nas search --warm-start`` end to end (issue 25): a tabular NAS-Bench-201 search through real local
Ray whose first children are the proxy's best cells, each proposed once across a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.proxies.score import best_by_proxy
from nas.results.run_folder import read_jsonl
from tests.nas_cli import nas, nas_search
from tests.search.test_nb201_search import TABULAR


@pytest.mark.slow
def test_warm_started_search_resumes_its_warm_cells_once(
    tmp_path: Path, cifar_dir: Path, nb201_table_path: Path
) -> None:
    run_dir = tmp_path / "w"
    args = [*TABULAR, "--benchmark", str(nb201_table_path), "--searcher", "tpe"]
    args += ["--warm-start", "synflow:20:4", "--max-concurrent", "1"]
    # Two children, then a resume to eight (a finished search extended with a larger budget, its own
    # settings kept): two warm cells are left for the resumed search.
    done = nas_search(*args, "--trials", "2", cwd=tmp_path, data=cifar_dir, results=tmp_path, name="w")
    assert done.returncode == 0, done.stderr[-3000:]
    warm_file = (run_dir / "warm_start.json").read_text()
    done = nas_search("--resume", str(run_dir), "--trials", "8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run_dir / "warm_start.json").read_text() == warm_file  # read back, not scored again

    warm = json.loads(warm_file)
    assert (warm["proxy"], warm["n"], warm["k"]) == ("synflow", 20, 4)
    scores = [c["score"] for c in warm["cells"]]
    assert scores == sorted(scores, reverse=True)
    warm_archs = [json.loads(c["genotype"])["arch"] for c in warm["cells"]]
    # The same 20 draws scored independently: the proxy's best four, best first.
    best = best_by_proxy("nas-bench-201", "synflow", 20, seed=0, N=1, C=8, data_dir=cifar_dir)
    assert warm_archs == [json.loads(g.to_json())["arch"] for g in best[:4]]

    rows = sorted(read_jsonl(run_dir / "trials.jsonl"), key=lambda r: int(r["trial_id"]))
    assert [r["arch"] for r in rows[:4]] == warm_archs  # the first children, in the proxy's order
    evaluated = [r["arch"] for r in rows if r["duplicate_of"] is None]
    assert len(evaluated) == 8 and all(evaluated.count(a) == 1 for a in warm_archs)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["warm_start"] == "synflow:20:4" and config["trials"] == 8 and config["searcher"] == "tpe"

    report = nas("report", str(run_dir), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Warm start: the best 4 of 20 random cells by synflow: child 0," in text
