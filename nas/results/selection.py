"""The selection stage's two choices, on leaderboard rows: which cells to retrain, and which one wins.

NASNet did not take its winner from the search's proxy: it retrained the top cells longer and chose
among them (Zoph et al. 2018, Sec. 4: the top 250 cells of the search trained to convergence, the
best of them kept). ``nas search --select-top K`` does the same (`nas.search.selection`): `top_cells`
picks the K best distinct cells of the search stage by its score, each is retrained
``--select-seeds`` times, and `selected` picks the cell with the best mean validation accuracy over
its seeds; ``best_genotype.json`` is that cell.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.results.row import TrialRow


def cell_key(genotype: Mapping[str, Any]) -> str:
    """The genotype as one text: the seeds of a selected cell carry the very same genotype."""
    return json.dumps(genotype, sort_keys=True)


def top_cells(
    rows: Iterable[TrialRow], k: int, *, key: Callable[[Mapping[str, Any]], str] = cell_key
) -> list[TrialRow]:
    """The search stage's ``k`` best rows by score, one per cell (``key``: the space's canonical form,
    so that two spellings of one network are one cell), best first, the earlier row on a tie.
    Fewer than ``k`` when the search scored fewer distinct cells."""
    ranked = sorted(
        (r for r in rows if r.stage == "search" and r.scored), key=lambda r: (-_number(r.score), r.index)
    )
    chosen: dict[str, TrialRow] = {}
    for row in ranked:
        chosen.setdefault(key(row.genotype), row)
        if len(chosen) == k:
            break
    return list(chosen.values())


@dataclass(frozen=True)
class Selected:
    """One retrained cell: its genotype, its selection accuracies (one per completed seed) and mean."""

    genotype: dict[str, Any]
    accuracies: tuple[float, ...]
    first_index: int  # its first selection row's: a tie between means goes to the earlier cell

    @property
    def mean(self) -> float:
        return sum(self.accuracies) / len(self.accuracies)


def selection_means(rows: Iterable[TrialRow]) -> list[Selected]:
    """Each cell the selection stage completed at least one seed of, in order of its first row.

    A seed's figure is its validation accuracy (`TrialRow.val_accuracy`, the trainer's best epoch),
    whatever the search scored by: selection, like NASNet's, is by accuracy. Seeds that failed or
    were rejected are left out of the mean.
    """
    cells: dict[str, Selected] = {}
    for row in rows:
        if row.stage != "select" or row.status != "completed" or row.val_accuracy is None:
            continue
        key = cell_key(row.genotype)
        seen = cells.get(key)
        accuracies = (*(seen.accuracies if seen else ()), float(row.val_accuracy))
        cells[key] = Selected(row.genotype, accuracies, seen.first_index if seen else row.index)
    return list(cells.values())


def selected(rows: Iterable[TrialRow]) -> Selected | None:
    """The cell with the best mean selection accuracy (the earlier one on a tie); None before any."""
    means = selection_means(rows)
    return min(means, key=lambda s: (-s.mean, s.first_index)) if means else None


def search_vs_select(rows: Sequence[TrialRow]) -> list[tuple[float, float]]:
    """(search score, mean selection accuracy) of each retrained cell: how well the search's proxy
    ranked the cells the selection retrained (the report's figure and Kendall tau)."""
    scores = {cell_key(r.genotype): _number(r.score) for r in rows if r.stage == "search" and r.scored}
    return [(scores[k], s.mean) for s in selection_means(rows) if (k := cell_key(s.genotype)) in scores]


def _number(value: float | None) -> float:
    return -math.inf if value is None else value
