"""`nas report` and the cell diagrams, rendered from real searches on the CIFAR-10 subset.

The run folders are the committed example runs (`results/`), made by `nas search` itself (local Ray,
real children) with the commands `results/README.md` states: the RL controller (4 updates: its plot
has points) and random search as the baseline.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import pytest

from nas.results.report import genotype_id, read_jsonl
from nas.space.diagram import draw_genotype
from nas.space.genotype import Block, Cell, Genotype
from nas.space.published import PUBLISHED
from tests.nas_cli import best_by_score, nas

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILDREN = 16  # per committed example run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Copies of two committed example runs (`results/README.md` says the command that made each):
    the RL controller and random search, seed 0, 16 real children each. A fresh search's folder is
    reported by the end-to-end tests (tests/bench/test_chaos_bench.py, test_weight_sharing_search.py)."""
    root = tmp_path_factory.mktemp("results")
    for searcher in ("rl", "random"):
        shutil.copytree(REPO_ROOT / "results" / f"example-{searcher}-s0", root / f"{searcher}-s0")
    with (root / "random-s0" / "trials.jsonl").open("a") as trials:
        trials.write('{"index": 16, "trial_id": "torn')  # as if the search had been killed mid-write
    return [root / "rl-s0", root / "random-s0"]


def _assert_image(path: Path) -> None:
    assert path.is_file(), path
    if path.suffix == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg")
        assert path.stat().st_size > 2_000, f"{path}: {path.stat().st_size} bytes"
        return
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000, f"{path}: {path.stat().st_size} bytes"
    assert matplotlib.image.imread(path).ndim == 3


@pytest.mark.slow
def test_report_over_two_runs(runs: list[Path]) -> None:
    proc = nas("report", *map(str, runs), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    report_dir = runs[0].parent / "report"
    assert Path(out["report_md"]) == report_dir / "report.md"
    # two best-cell diagrams, the curves, the Pareto plot, the RL controller
    assert len(out["images"]) == 5
    for image in out["images"]:
        _assert_image(report_dir / image)

    md = (report_dir / "report.md").read_text()
    best_overall = 0.0
    for run in runs:
        trials = read_jsonl(run / "trials.jsonl")  # the torn line is skipped
        assert len(trials) == CHILDREN
        completed = [t for t in trials if t["status"] == "completed"]
        top = best_by_score(trials)  # ranked by the default --score, val_loss
        best_overall = max(best_overall, top["score"])
        section = md.split(f"## {run.name} (")[1].split("\n## ")[0]
        assert f"{len(completed)} of {CHILDREN} children completed" in section
        assert "Ranked by val_loss" in section and "| val_loss (score) |" in section
        first_row = next(line for line in section.splitlines() if line.startswith("| 1 |"))
        assert f"| {100 * top['val_accuracy']:.2f}% | {top['val_loss']:.4f} |" in first_row
        assert genotype_id(top["genotype"]) in first_row
        leaderboard = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
        assert len(leaderboard) == min(len(completed), 10)  # `nas report`'s default --top 10
    assert (out["best"]["score"], out["best"]["score_by"]) == (best_overall, "val_loss")
    # One numbering of children: the command line names the best child as report.md does.
    line = nas("report", *map(str, runs)).stdout.splitlines()[0]
    child = re.search(r"child (\S+):", line)
    assert child is not None and child.group(1) == str(out["best"]["trial_id"]), line
    best_run = runs[0].parent / out["best"]["run"]
    assert f"Best: child {out['best']['trial_id']} " in md.split(f"## {best_run.name} (")[1]

    page = (report_dir / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(refs) == len(out["images"])
    assert all((report_dir / ref).is_file() and not ref.startswith(("http", "/")) for ref in refs)
    assert "<script" not in page


@pytest.mark.slow
def test_report_of_one_run_goes_into_its_folder(runs: list[Path], tmp_path: Path) -> None:
    proc = nas("report", str(runs[1]), "--top", "1")
    assert proc.returncode == 0, proc.stderr
    md = (runs[1] / "report.md").read_text()
    assert len(re.findall(r"^\| 1 \|", md, flags=re.M)) == 1  # --top 1: one leaderboard row
    assert "RL controller" not in md


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_draw_published(name: str, suffix: str, tmp_path: Path) -> None:
    _assert_image(draw_genotype(PUBLISHED[name], tmp_path / f"{name}{suffix}"))


def test_draw_concat_combines(tmp_path: Path) -> None:
    cell = Cell(
        blocks=(
            Block(0, 1, "sep_conv_3x3", "max_pool_3x3", combine="concat"),
            Block(2, 2, "skip_connect", "avg_pool_3x3"),
            Block(3, 0, "conv_3x3", "sep_conv_5x5", combine="concat"),
        )
    )
    genotype = Genotype(normal=cell, reduce=cell, name="concat")
    _assert_image(draw_genotype(genotype, tmp_path / "concat.png"))
    assert "4: concat" in (draw_genotype(genotype, tmp_path / "concat.svg")).read_text()


def test_show_plot(tmp_path: Path) -> None:
    path = tmp_path / "cells.png"
    proc = nas("show", "darts-v2", "--N", "1", "--C", "4", "--plot", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plot"] == str(path)
    _assert_image(path)


def test_not_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    proc = nas("report", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "trials.jsonl" in proc.stderr


def test_shared_weight_tau_is_per_run_never_pooled(tmp_path: Path) -> None:
    """Each --weight-sharing run scores with its own supernet: its tau uses its own cells only."""
    from nas.results.report import kendall_tau, load_run, shared_weight_pairs, shared_weight_taus

    names = [f"example-ws-{s}-s0" for s in ("rl", "random")]
    for name in names:  # loading a run rewrites its trials.csv: never the committed examples
        shutil.copytree(REPO_ROOT / "results" / name, tmp_path / name)
    runs = [load_run(tmp_path / name) for name in names]
    taus = shared_weight_taus({run.label: shared_weight_pairs(run) for run in runs})
    assert list(taus) == [run.label for run in runs]
    for run in runs:
        pairs = shared_weight_pairs(run)
        assert len(pairs) == run.config["verify_top"] == taus[run.label][1]
        assert taus[run.label][0] == kendall_tau([x for x, _ in pairs], [y for _, y in pairs])
