"""The selection stage: the search's top cells retrained longer, the winner by mean accuracy.

Zoph et al. (2018, Sec. 4) did not keep the cell with the best one-epoch proxy: the top cells of the
search were trained longer and the best of those kept. With ``--select-top K`` a search ends the same
way: once its budget is spent, the K best distinct cells by the search's score
(`nas.results.selection.top_cells`) are trained again through the same Ray Tune path as the search's
children (same trainable, leaderboard, live view and W&B), ``--select-epochs`` epochs and
``--select-seeds`` children per cell, as rows of stage ``select``; ``best_genotype.json`` becomes the
cell with the best mean validation accuracy over its seeds (`nas.results.selection.selected`).

The children are proposed in order by the weight-sharing search's list searcher
(`nas.search.weight_sharing.VerifyList`, each cell repeated once per seed), and the stage keeps its
own searcher books (`nas.results.run_folder.RunFolder.stage_folder`), so it resumes after a kill as
the search does (`nas.search.tune_adapter`): nothing is trained twice. The cells are read from the
search's rows, which are final once the selection starts, so a resume retrains the same cells.

Deviations: NASNet retrained 250 cells to convergence; here K and the epochs are the user's. Each
seed is a child with a seed of its own (common random numbers are off in this stage: ``--crn``
would give a cell's seeds the same numbers, and so the same accuracy). The tabular NAS-Bench-201 mode
refuses ``--select-top`` (`nas.search.settings.SearchSettings.check_select`): its children already
are the table's 200-epoch accuracy, the quantity retraining longer estimates.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError
from nas.results.run_folder import RunFolder
from nas.results.selection import top_cells
from nas.search.settings import SearchSettings
from nas.searcher.base import Searcher

if TYPE_CHECKING:
    from nas.search.runner import SearchOutcome

logger = logging.getLogger(__name__)

SELECT_FLAGS = ("select_epochs", "select_seeds")
"""Settings that mean something only with ``--select-top``."""


def check_flags(values: Mapping[str, Any]) -> None:
    """Refuse selection settings with no selection to apply to (``values``: a new run's settings given,
    its preset applied)."""
    given = [f"--{k.replace('_', '-')}" for k in SELECT_FLAGS if k in values]
    if given and not values.get("select_top"):
        raise ConfigError(f"{', '.join(given)} only apply with --select-top K (cells to retrain)")


def selection(settings: SearchSettings, run: RunFolder) -> tuple[SearchSettings, Searcher, RunFolder]:
    """The stage's child settings, its list searcher and the run folder as the stage keeps its books.

    The child settings are the search's with ``trials`` = cells x seeds and ``epochs`` =
    ``--select-epochs``; a cell repeated for its seeds is trained each time (``retrain_duplicates``, ``max_samples``);
    every child runs to its last epoch (no ASHA: the stage compares finished children). A search
    scored by ``zero_cost`` has its cells trained here all the same (scored by ``val_loss``).
    """
    from nas.search.searcher import build_space
    from nas.search.weight_sharing import VerifyList

    space = build_space(settings.space, blocks=settings.blocks)
    cells = top_cells(
        run.trials(), settings.select_top, key=lambda g: space.canonical(space.genotype_from_json(g))
    )
    if len(cells) < settings.select_top:
        logger.warning(
            "--select-top %d: the search scored %d distinct cells; all of them are retrained",
            settings.select_top,
            len(cells),
        )
    genotypes = [space.genotype_from_json(r.genotype) for r in cells for _ in range(settings.select_seeds)]
    child = dataclasses.replace(
        settings,
        trials=len(genotypes),
        epochs=settings.select_epochs,
        crn=False,
        retrain_duplicates=True,
        max_samples=settings.select_seeds,
        scheduler="fifo",
        warm_start=None,
        # a search scored untrained (--score zero_cost) selects by training: its retrained cells'
        # rows are scored by the default trained score
        score=None if settings.score_by == "zero_cost" else settings.score,
    )
    # Its state is restored by the Tune adapter from the stage's own snapshot and journal.
    return child, VerifyList(space, seed=settings.seed, genotypes=genotypes), run.stage_folder("select")


def summary_of(run: RunFolder, outcome: SearchOutcome, *, interrupted: bool) -> dict[str, Any]:
    """The stage's part of the search's summary (``--json``'s ``select`` object): the cell chosen, its
    mean accuracy and seeds, and Kendall's tau between the search's scores and the selection means."""
    from nas.results.report import kendall_tau
    from nas.results.selection import search_vs_select, selected

    rows = run.all_trials()
    choice = selected(rows)
    pairs = search_vs_select(rows)
    tau = kendall_tau([x for x, _ in pairs], [y for _, y in pairs]) if len(pairs) > 1 else None
    return {
        "children_done": outcome.trials_done,
        "budget": outcome.budget,
        "cells": len(pairs),
        "selected_accuracy": None if choice is None else choice.mean,
        "selected_seeds": None if choice is None else len(choice.accuracies),
        "best_genotype": str(run.best_genotype) if choice is not None else None,
        "kendall_tau": None if tau is None or math.isnan(tau) else tau,
        "wall_s": outcome.wall_s,
        "interrupted": interrupted and outcome.trials_done < outcome.budget,
    }


def select_line(summary: Mapping[str, Any]) -> str:
    """The stage's line under the search's: what was retrained and which cell won."""
    done = f"{summary['children_done']}/{summary['budget']} children over {summary['cells']} cells"
    if summary["selected_accuracy"] is None:
        return f"selection {'interrupted' if summary['interrupted'] else 'done'}: {done}, no cell completed"
    tau = "" if summary["kendall_tau"] is None else f", search-vs-selection tau {summary['kendall_tau']:.2f}"
    return (
        f"selection {'interrupted' if summary['interrupted'] else 'done'}: {done}, selected mean val_accuracy "
        f"{summary['selected_accuracy']:.4f} over {summary['selected_seeds']} seed(s){tau}, "
        f"{summary['wall_s']:.0f} s -> {summary['best_genotype']}"
    )
