"""`nas report` and the cell diagrams, rendered from real tiny searches on the CIFAR-10 subset.

`nas search` is not built yet, so the run folders are written here the way it will write them: a real
searcher (the RL controller, and random search as the baseline) proposes children, `train_child`
trains them on the CPU, and each result goes to ``trials.jsonl`` / ``searcher_stats.jsonl``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import pytest

from nas.cell_diagram import draw_genotype
from nas.data import load_cifar10
from nas.genotype import Block, Cell, Genotype
from nas.network import NetworkConfig
from nas.published import PUBLISHED
from nas.report import genotype_id, read_jsonl
from nas.searcher import create_searcher
from nas.trainer import TrainConfig, train_child
from search_spaces.nasnet import NasnetSpace

CHILDREN = 2  # per run; the machine that runs the tests may be shared, so the children are tiny
CHEAP_OPS = ("skip_connect", "avg_pool_3x3", "max_pool_3x3", "sep_conv_3x3")


def nas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nas.cli", *args], capture_output=True, text=True, timeout=300
    )


def _search(folder: Path, searcher_name: str, data: object) -> None:
    """A 2-child search at N=1, C=4, two steps on 128 images, written in `nas search`'s format."""
    folder.mkdir(parents=True)
    config = {"searcher": searcher_name, "seed": 0, "trials": CHILDREN, "N": 1, "C": 4, "epochs": 1}
    (folder / "config.json").write_text(json.dumps(config))
    space = NasnetSpace(num_blocks=2, ops=CHEAP_OPS)
    options = {"batch_size": 1} if searcher_name == "rl" else {}  # one controller update per child
    searcher = create_searcher(searcher_name, space, seed=0, **options)
    train = TrainConfig(epochs=1, max_steps=2, batch_size=64, device="cpu", train_size=128, val_size=128)
    best = 0.0
    with (folder / "trials.jsonl").open("w") as trials, (folder / "searcher_stats.jsonl").open("w") as stats:
        for index in range(CHILDREN):
            proposal = searcher.ask()
            result = train_child(proposal.genotype, NetworkConfig(N=1, C=4), train, data)  # type: ignore[arg-type]
            searcher.tell(proposal.trial_id, result.to_trial_result())
            best = max(best, result.val_accuracy or 0.0)
            record = {
                **{k: v for k, v in result.to_dict().items() if k not in ("split", "final_val_accuracy")},
                "index": index,
                "trial_id": proposal.trial_id,
                "genotype": proposal.genotype.to_dict(),
                "searcher": searcher_name,
            }
            trials.write(json.dumps(record) + "\n")
            stats.write(json.dumps({"step": index + 1, "best_reward": best, **searcher.stats()}) + "\n")
        trials.write('{"index": 2, "trial_id": "torn')  # a search killed mid-write


@pytest.fixture(scope="module")
def runs(cifar_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    data = load_cifar10(cifar_dir, train_size=128, val_size=128)
    root = tmp_path_factory.mktemp("results")
    for name in ("rl", "random"):
        _search(root / f"{name}-s0", name, data)
    return [root / "rl-s0", root / "random-s0"]


def _assert_image(path: Path) -> None:
    assert path.is_file(), path
    if path.suffix == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg")
        return
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000, f"{path}: {path.stat().st_size} bytes"
    assert matplotlib.image.imread(path).ndim == 3


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
        top = max(completed, key=lambda t: t["val_accuracy"])
        best_overall = max(best_overall, top["val_accuracy"])
        section = md.split(f"## {run.name} (")[1].split("\n## ")[0]
        assert f"{len(completed)} of {CHILDREN} children completed" in section
        first_row = next(line for line in section.splitlines() if line.startswith("| 1 |"))
        assert f"| {100 * top['val_accuracy']:.2f}% |" in first_row
        assert genotype_id(top["genotype"]) in first_row
        assert len([line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]) == len(completed)
    assert out["best"]["val_accuracy"] == best_overall

    page = (report_dir / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(refs) == len(out["images"])
    assert all((report_dir / ref).is_file() and not ref.startswith(("http", "/")) for ref in refs)
    assert "<script" not in page


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
