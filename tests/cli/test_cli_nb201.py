"""`nas show` and `nas train` for NAS-Bench-201 cells (issues 23 and 27): an arch string, its genotype
JSON, a bare arch string in a file and the run folder of an NB201 search, as for NASNet cells.

Tiny networks (N=1, C=8) and few images keep the trained ones fast; the bad command lines for these
cells are in ``bad_command_lines.txt`` with the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import nas
from nas.cli.main import build_parser, main
from nas.cli.train import _network_config, _train_config
from nas.model.counting import count_mult_adds, count_params
from nas.model.nb201 import PAPER_SIZE, Nb201Network
from nas.model.network import NetworkConfig
from nas.space.nb201 import Nb201Genotype
from nas.train.recipes import NB201_SCHEDULE
from tests.nas_cli import nas_search

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
TINY = ["--N", "1", "--C", "8"]
TINY_TRAINING = ["--epochs", "1", "--batch-size", "64", "--train-size", "256", "--val-size", "128"]


def _show_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["show", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_show_builds_the_benchmarks_network_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --N/--C the benchmark's own network (N=5, C=16), counted as the trainer builds it."""
    data = _show_json(capsys, ARCH)
    network = Nb201Network(Nb201Genotype.from_arch(ARCH), NetworkConfig(**PAPER_SIZE))
    assert (data["N"], data["C"], data["stage_channels"]) == (5, 16, [16, 32, 64])
    assert data["params"] == count_params(network) and data["mult_adds"] == count_mult_adds(network, 32)
    assert data["arch"] == ARCH and data["cells"] == {
        "schema_version": 1,
        "space": "nas-bench-201",
        "arch": ARCH,
    }


def test_show_prints_the_edges_and_draws_the_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "cell.svg"
    assert main(["show", ARCH, *TINY, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    edge_rows = [line.split() for line in out.splitlines() if line.startswith("│")]
    assert [row[1:8:2] for row in edge_rows] == [
        ["0", "0", "1", "nor_conv_3x3"],
        ["1", "0", "2", "nor_conv_3x3"],
        ["2", "1", "2", "avg_pool_3x3"],
        ["3", "0", "3", "skip_connect"],
        ["4", "1", "3", "nor_conv_3x3"],
        ["5", "2", "3", "skip_connect"],
    ]
    text = " ".join(out.split())  # as read, whatever the terminal width wrapped
    assert ARCH in text and "1 cells per stage at C=8 (8/16/32 channels" in text
    assert f"celldrawnin{plot}" in "".join(text.split())  # a long tmp path may wrap anywhere
    svg = plot.read_text()  # matplotlib's SVG names each text it draws in a comment, as graphviz's does
    assert svg.startswith("<?xml") and svg.rstrip().endswith("</svg>")
    for label in (
        "0: input",
        "1: +",
        "2: +",
        "3: + (output)",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
    ):
        assert label in svg, label


@pytest.mark.parametrize("form", ["json", "bare arch string"])
def test_show_reads_a_genotype_file(form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The genotype's JSON (its name shown) and a file holding only the arch string (named by its stem)."""
    path = tmp_path / "found.json"
    if form == "json":
        Nb201Genotype.from_arch(ARCH, name="my-cell").save(path)
    else:
        path.write_text(ARCH + "\n")
    data = _show_json(capsys, str(path), *TINY)
    assert data["arch"] == ARCH and data["genotype"] == ("my-cell" if form == "json" else "found")
    assert (data["N"], data["C"]) == (1, 8)


def test_paper_schedule_for_an_nb201_cell_is_the_benchmarks_recipe() -> None:
    """Dong & Yang 2020, Table 1: 200 epochs, batch 256, Nesterov SGD lr 0.1 (cosine to 0), wd 5e-4,
    no clip, on N=5, C=16; flags given override it, and a NASNet cell keeps NASNet's recipe."""
    genotype = Nb201Genotype.from_arch(ARCH)
    args = build_parser().parse_args(["train", ARCH, "--paper-schedule"])
    train = _train_config(args, nb201=True)
    assert (train.epochs, train.batch_size, train.lr, train.momentum) == (200, 256, 0.1, 0.9)
    assert (train.nesterov, train.weight_decay, train.grad_clip, train.cutout) == (True, 5e-4, None, 0)
    assert train.aux_weight == train.drop_path_prob == 0.0
    network = _network_config(args, genotype, train, {})
    assert (network.N, network.C, network.auxiliary) == (PAPER_SIZE["N"], PAPER_SIZE["C"], False)
    args = build_parser().parse_args(["train", ARCH, "--paper-schedule", "--epochs", "3", "--C", "8"])
    train = _train_config(args, nb201=True)
    network = _network_config(args, genotype, train, {})
    assert (train.epochs, train.batch_size, network.N, network.C) == (3, NB201_SCHEDULE["batch_size"], 5, 8)
    nasnet = _train_config(build_parser().parse_args(["train", "nasnet-a", "--paper-schedule"]))
    assert (nasnet.epochs, nasnet.batch_size) == (600, 32)


def test_train_an_arch_string_and_load_its_checkpoint(
    cifar_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One tiny epoch in this process; the saved network is an `Nb201Network` that `nas.load_checkpoint`
    rebuilds, and the result records the cell's arch string."""
    out = tmp_path / "run"
    args = ["train", ARCH, *TINY, *TINY_TRAINING, "--device", "cpu", "--data-dir", str(cifar_dir)]
    assert main([*args, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "completed" and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["export"] == f"nas export {out} --format pt2"
    record = json.loads((out / "result.json").read_text())
    assert record["genotype"]["arch"] == ARCH and (record["network"]["N"], record["network"]["C"]) == (1, 8)
    network = nas.load_checkpoint(out)
    assert isinstance(network, Nb201Network) and summary["params"] == count_params(network)
    with torch.no_grad():
        assert network(torch.zeros(2, 3, 32, 32)).logits.shape == (2, 10)


@pytest.mark.slow  # a real tabular search: Ray's start alone is most of its ~50 s on this 2-core machine
def test_show_and_train_the_run_folder_of_an_nb201_search(
    cifar_dir: Path, nb201_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = nas_search(
        "--space", "nas-bench-201", "--benchmark", str(nb201_table_path), "--trials", "3",
        "--searcher", "random", "--wandb", "disabled", "--quiet",
        cwd=tmp_path, results=tmp_path / "results", name="tab",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "results" / "tab"
    best = Nb201Genotype.from_json((run / "best_genotype.json").read_text())
    shown = _show_json(capsys, str(run), *TINY)
    assert shown["arch"] == best.arch and shown["genotype"] == "tab-best"
    out = tmp_path / "trained"
    args = ["train", str(run), "--like", str(run), "--max-steps", "2", "--train-size", "256"]
    assert main([*args, "--data-dir", str(cifar_dir), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    record = json.loads((out / "result.json").read_text())
    settings = json.loads((run / "config.json").read_text())
    assert record["genotype"]["arch"] == best.arch
    assert (record["network"]["N"], record["network"]["C"]) == (settings["N"], settings["C"])
