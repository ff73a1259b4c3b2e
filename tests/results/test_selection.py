"""The selection stage's choices (nas/results/selection.py), without Ray: the top K distinct cells of the
search, the winner by its mean over seeds, and how the run folder keeps each stage's books apart."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from nas.errors import ConfigError
from nas.results.report import write_report
from nas.results.row import TrialRow
from nas.results.run_folder import RunFolder, write_json
from nas.results.selection import search_vs_select, selected, selection_means, top_cells
from nas.search.resolve import resolve_settings
from nas.search.settings import SearchSettings
from tests.results.test_duplicates import ARCH_A, ARCH_B, _genotype, _row

ARCH_C = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ARCH_D = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ARCH_B_TWIN = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|"
TWINS = {ARCH_B_TWIN: ARCH_B}
"""A space's canonical form as `top_cells` takes it: here two spellings are one network (in the NASNet
space, two cells equal up to a symmetric combine)."""


def _key(genotype: Mapping[str, Any]) -> str:
    return TWINS.get(str(genotype["arch"]), str(genotype["arch"]))


def _select(index: int, arch: str, accuracy: float | None) -> TrialRow:
    return dataclasses.replace(_row(index, arch, accuracy), stage="select", trial_id=f"v{index}")


def test_top_cells_are_the_best_distinct_search_cells_by_score() -> None:
    rows = [
        _row(0, ARCH_A, 0.30),
        _row(1, ARCH_B, 0.50),
        _row(2, ARCH_B_TWIN, 0.60),  # one network with ARCH_B: its better sample stands for both
        _row(3, ARCH_C, None),  # failed: never selected
        _row(4, ARCH_D, 0.30),  # ties ARCH_A: the earlier row goes first
        _select(5, ARCH_C, 0.90),  # a selection row is not the search's
    ]
    chosen = top_cells(rows, 2, key=_key)
    assert [r.index for r in chosen] == [2, 0]
    assert [r.index for r in top_cells(rows, 10, key=_key)] == [2, 0, 4]  # all there are
    assert [r.index for r in top_cells(rows, 10)] == [2, 1, 0, 4]  # by genotype alone the twin counts


def test_the_selected_cell_has_the_best_mean_over_its_seeds() -> None:
    search = [_row(0, ARCH_A, 0.30), _row(1, ARCH_B, 0.20)]
    select = [
        _select(2, ARCH_A, 0.70),
        _select(3, ARCH_A, 0.40),  # mean 0.55
        _select(4, ARCH_B, 0.60),
        _select(5, ARCH_B, None),  # a failed seed is left out: mean 0.60
    ]
    means = selection_means([*search, *select])
    assert [(m.accuracies, m.first_index) for m in means] == [((0.70, 0.40), 2), ((0.60,), 4)]
    choice = selected([*search, *select])
    assert choice is not None and choice.genotype == _genotype(ARCH_B) and choice.mean == 0.60
    assert selected(search) is None  # no selection row yet
    tie = [_select(0, ARCH_A, 0.5), _select(1, ARCH_B, 0.5)]
    assert (winner := selected(tie)) is not None and winner.genotype == _genotype(ARCH_A)
    assert search_vs_select([*search, *select]) == [(0.30, 0.55), (0.20, 0.60)]


def test_each_stage_keeps_its_own_books_and_best_genotype_is_the_selection_choice(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.add_trial(_row(0, ARCH_A, 0.60))
    run.add_trial(_row(1, ARCH_B, 0.30))
    assert json.loads(run.best_genotype.read_text()) == _genotype(ARCH_A)
    select = run.stage_folder("select")
    assert (
        select.searcher_state.name == "select_state.json" and select.searcher_journal != run.searcher_journal
    )
    select.add_trial(_select(2, ARCH_A, 0.40))
    select.add_trial(_select(3, ARCH_B, 0.50))  # the search's second cell wins the selection
    assert json.loads(run.best_genotype.read_text()) == _genotype(ARCH_B)
    assert [r.index for r in RunFolder(tmp_path).trials()] == [0, 1]
    assert [r.stage for r in run.stage_folder("select").trials()] == ["select", "select"]
    assert len(run.all_trials()) == 4


def test_the_report_ranks_the_retrained_cells_and_plots_search_against_selection(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    write_json(
        run.config, {"searcher": "random", "score": "val_accuracy", "select_epochs": 3, "select_seeds": 2}
    )
    for row in (_row(0, ARCH_A, 0.30), _row(1, ARCH_B, 0.20), _row(2, ARCH_C, 0.10)):
        run.add_trial(row)
    select = run.stage_folder("select")
    for row in (
        _select(3, ARCH_A, 0.7),
        _select(4, ARCH_A, 0.9),
        _select(5, ARCH_B, 0.8),
        _select(6, ARCH_B, 0.6),
    ):
        select.add_trial(row)
    out = write_report([run.path])
    md = Path(out["report_md"]).read_text()
    section = md[md.index("## Selection: run (random)") :]
    assert "selection mean: 1.00 over 2 cells" in section  # ARCH_A above ARCH_B in both stages
    assert "| 1 | 0 | 0.3000 | 2 | 80.00% |" in section  # rank, search child, its score, seeds, mean
    assert (run.path / "report_images" / "run_selection.png").is_file()
    assert "report_images/run_selection.png" in out["images"]
    assert out["selected"]["run"]["mean_val_accuracy"] == 0.8 and out["selected"]["run"]["seeds"] == 2
    # The leaderboard of the run ranks the search's 3 children only; the selection has its own table.
    assert "3 of 3 children completed" in md


def test_a_run_whose_selection_began_is_not_extended(tmp_path: Path) -> None:
    """--resume --trials N after the selection began would change the top cells it is retraining."""
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    write_json(run.config, SearchSettings(name="run", trials=2, select_top=1).to_dict())
    run.add_trial(_row(0, ARCH_A, 0.3))
    run.add_trial(_row(1, ARCH_B, 0.2))
    run.stage_folder("select").add_trial(_select(2, ARCH_A, 0.4))
    with pytest.raises(ConfigError, match="has begun its selection stage"):
        resolve_settings({"trials": 3}, resume=str(run.path))
