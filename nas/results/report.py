"""Reports of finished searches: load run folders, plot them, write ``report.md`` and ``index.html``.

A search is judged the way the papers judge it (Zoph et al. 2018, Fig. 6; Real et al. 2019, Fig. 3):
the best accuracy found against the number of children trained, next to random search with the same
budget, and by what the best cells cost (the accuracy / mult-adds Pareto front). The report shows
those, the best cells drawn, a leaderboard, and for the RL controller how its policy sharpened
(op probabilities and entropy per update), which is how one tells learning from luck.

Everything is a static file: PNGs written with matplotlib's Agg backend and a page that refers to them
by relative path, so the report opens offline and can be committed or mailed as a folder.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import NasError
from nas.results.duplicates import best_cell, cell_samples, cell_scores, is_retrained
from nas.results.row import TrialRow, best, score_label
from nas.results.run_folder import RunFolder, read_jsonl, read_leaderboard, read_run_config
from nas.results.selection import cell_key, search_vs_select, selected, selection_means
from nas.space.diagram import draw_genotype, pyplot
from nas.space.load import genotype_from_data

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

IMAGES_DIR = "report_images"
_SCORE_WHY = {
    "val_loss": "a lower loss ranks higher; docs/fidelity.md says why it is the default",
    "train_loss_sum": "a lower sum of training losses ranks higher; docs/fidelity.md",
    "zero_cost": "the untrained child's synflow_naswot proxy, higher ranks higher; docs/zero_cost.md",
}
RANDOM_SEARCHER = "random"
RL_SEARCHER = "rl"


@dataclass(frozen=True)
class Run:
    """One search's folder as the report needs it: settings, children in completion order, stats."""

    path: Path
    config: dict[str, Any]
    trials: list[TrialRow]
    stats: list[dict[str, Any]]
    warm: dict[str, Any] | None = None  # warm_start.json, when the search was warm-started
    select: tuple[TrialRow, ...] = ()  # the selection stage's rows (``--select-top``); `trials`: the search's

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def searcher(self) -> str:
        return str(self.config.get("searcher", "?"))

    @property
    def score_by(self) -> str:
        """What the run scored its children by (``--score``); runs from before it, by accuracy."""
        return str(self.config.get("score") or "val_accuracy")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.searcher})"

    def completed(self) -> list[TrialRow]:
        return [t for t in self.trials if t.scored]

    def ranked(self) -> list[TrialRow]:
        """Completed children (one row per cell), best first by their cell's score (``--score``): the
        row's own, or with ``--retrain-duplicates`` the figure over the cell's trained samples
        (`nas.results.duplicates.cell_scores`); ties go to the earlier child."""
        scores = cell_scores(self.trials)
        return sorted(self.completed(), key=lambda t: (-scores.get(t.trial_id, _score(t)), t.index))


def _score(row: TrialRow) -> float:
    """The score of a `TrialRow.scored` row (what the run ranks by)."""
    assert row.score is not None
    return row.score


def _accuracy(row: TrialRow) -> float:
    """The figure the report plots for a `TrialRow.scored` row: its validation accuracy; for a child
    scored untrained (``--score zero_cost``), which has none, its score (`_figure_label` says which)."""
    value = row.val_accuracy if row.val_accuracy is not None else row.score
    assert value is not None
    return value


def _figure_label(runs: Sequence[Run]) -> str:
    """The axis label of `_accuracy`: the runs' validation accuracy, or the zero_cost score."""
    untrained = {run.score_by == "zero_cost" for run in runs}
    if untrained == {True}:
        return "zero_cost score (untrained)"
    return "validation accuracy" if untrained == {False} else "val accuracy, or zero_cost score"


def _pct_of(row: TrialRow) -> str:
    """A row's validation accuracy in percent, "-" for a child that was not trained."""
    return "-" if row.val_accuracy is None else _pct(row.val_accuracy)


def load_run(path: str | Path) -> Run:
    """Read a ``nas search`` run folder; a folder without ``config.json`` and ``trials.jsonl`` is an error."""
    folder = Path(path)
    missing = [f for f in ("config.json", "trials.jsonl") if not (folder / f).is_file()]
    if missing:
        raise NasError(f"{folder} is not a search run folder (no {' or '.join(missing)})")
    run = RunFolder(folder)
    config = read_run_config(run)
    rows, torn = read_leaderboard(run.trials_jsonl)  # damage in the middle is refused, with its repair
    if torn is not None:
        logger.warning("%s: skipping the torn last line", run.trials_jsonl)
    every = sorted((TrialRow.from_dict(r) for r in rows), key=lambda t: t.index)
    run.write_csv(every)  # the CSV is written on demand, not by the search per child
    trials = [t for t in every if t.stage == "search"]
    select = tuple(t for t in every if t.stage == "select")
    stats = read_jsonl(run.stats_jsonl) if run.stats_jsonl.is_file() else []
    warm = json.loads(run.warm_start.read_text(encoding="utf-8")) if run.warm_start.is_file() else None
    return Run(folder, config, trials, stats, warm, select)


def genotype_id(genotype: dict[str, Any]) -> str:
    """A short, stable id of a genotype's cells (its name ignored), to spot one cell found twice."""
    if "arch" in genotype:  # a NAS-Bench-201 cell: its arch string is the cell
        return hashlib.sha1(str(genotype["arch"]).encode()).hexdigest()[:8]
    cells = {k: genotype[k] for k in ("normal", "reduce")}
    return hashlib.sha1(json.dumps(cells, sort_keys=True).encode()).hexdigest()[:8]


def best_so_far(trials: Sequence[TrialRow]) -> list[float]:
    """Best accuracy among the first k children, for k = 1..n; NaN until one completed."""
    curve: list[float] = []
    top: TrialRow | None = None
    for t in trials:
        top = best([top, t])
        curve.append(math.nan if top is None else _accuracy(top))
    return curve


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (cost, accuracy) points -- lower cost, higher accuracy -- by cost."""
    front, best = [], -math.inf
    for i in sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1])):
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two equally long sequences (ties counted as in scipy.stats.kendalltau);
    NaN when either is constant. O(n^2) pairs: the hundreds of points a report holds."""
    if len(x) != len(y):
        raise ValueError("kendall_tau: sequences of different lengths")
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else math.nan


def shared_weight_pairs(run: Run) -> list[tuple[float, float]]:
    """(shared-weight score, stand-alone accuracy) of each verified child of a ``--weight-sharing`` run:
    its whole-validation-split score in ``ws_scores.jsonl`` joined with its leaderboard row."""
    path = run.path / "ws_scores.jsonl"
    if not path.is_file():
        return []
    scores = {
        genotype_id(r["genotype"]): float(r["accuracy"]) for r in read_jsonl(path) if r["stage"] == "final"
    }
    return [
        (scores[genotype_id(t.genotype)], _accuracy(t))
        for t in run.completed()
        if genotype_id(t.genotype) in scores
    ]


def shared_weight_taus(pairs: Mapping[str, Sequence[tuple[float, float]]]) -> dict[str, tuple[float, int]]:
    """Kendall's tau and cell count of each run's `shared_weight_pairs` (runs without any left out).
    Per run, never pooled: each run has its own supernet, so scores of two runs are on different scales."""
    return {
        label: (kendall_tau([x for x, _ in p], [y for _, y in p]), len(p)) for label, p in pairs.items() if p
    }


@dataclass(frozen=True)
class Section:
    """One part of the page, rendered to Markdown and to HTML by the same writer."""

    title: str
    text: str = ""
    table: tuple[tuple[str, ...], ...] = ()  # header row first
    images: tuple[str, ...] = ()  # paths relative to the page


def write_report(
    run_dirs: Sequence[str | Path], out: str | Path | None = None, *, top: int = 10
) -> dict[str, Any]:
    """Write the report of ``run_dirs`` into ``out`` and return what ``nas report --json`` prints.

    ``out`` defaults to the run folder for one run, else ``report/`` beside the runs.
    """
    runs = [load_run(d) for d in run_dirs]
    out_dir = Path(out) if out is not None else _default_out(runs)
    (out_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    images: list[Path] = []

    def image(name: str) -> Path:
        path = out_dir / IMAGES_DIR / name
        images.append(path)
        return path

    sections = [_summary_section(runs)]
    for run in runs:
        sections.append(_run_section(run, top, image))
    sections.append(Section("Search curves", _CURVES_TEXT, images=(_plot_curves(runs, image("curves.png")),)))
    pareto = _plot_pareto(runs, image("pareto.png"))
    sections.append(Section("Accuracy vs cost", _PARETO_TEXT, images=(pareto,) if pareto else ()))
    shared = _plot_shared_weights(runs, out_dir / IMAGES_DIR / "shared_weights.png")
    if shared is not None:  # only --weight-sharing runs have the figure
        image("shared_weights.png")
        sections.append(
            Section("Shared-weight score vs stand-alone accuracy", shared[1], images=(shared[0],))
        )
    for run in runs:
        if run.select:  # --select-top: the search's top cells retrained, the winner by mean accuracy
            sections.append(_select_section(run, image(f"{run.name}_selection.png")))
    table = _plot_table(runs, out_dir / IMAGES_DIR / "table_accuracy.png")
    if table is not None:  # only --benchmark --train runs have both numbers
        image("table_accuracy.png")
        sections.append(Section("Measured accuracy vs the benchmark table", table[1], images=(table[0],)))
    for run in runs:
        if run.searcher == RL_SEARCHER and any("op_probs" in s for s in run.stats):
            plot = _plot_controller(run, image(f"{run.name}_controller.png"))
            sections.append(Section(f"RL controller: {run.label}", _CONTROLLER_TEXT, images=(plot,)))
    relative = [_rel(p, out_dir) for p in images]
    md, page = out_dir / "report.md", out_dir / "index.html"
    md.write_text(_markdown(sections, out_dir), encoding="utf-8")
    page.write_text(_html(sections, out_dir), encoding="utf-8")
    summary = {"report_md": str(md), "index_html": str(page), "images": relative, "best": _best(runs)}
    return summary | ({"selected": _selected(runs)} if any(run.select for run in runs) else {})


def _selected(runs: Sequence[Run]) -> dict[str, Any]:
    """Each ``--select-top`` run's chosen cell (its best_genotype.json): the mean over its seeds."""
    chosen = {run.name: selected([*run.trials, *run.select]) for run in runs if run.select}
    return {
        name: {
            "genotype_id": genotype_id(c.genotype),
            "mean_val_accuracy": c.mean,
            "seeds": len(c.accuracies),
        }
        for name, c in chosen.items()
        if c is not None
    }


_CURVES_TEXT = (
    "Left: each child's validation accuracy in completion order. Right: the best accuracy found so far, "
    "thin per run and bold for each searcher's mean over its runs (seeds); the dashed black line is random "
    "search's mean, the baseline a searcher must beat at the same budget."
)
_PARETO_TEXT = (
    "Completed children by cost; the non-dominated front (no child both cheaper and better) is joined."
)
_CONTROLLER_TEXT = (
    "Probability of each op averaged over the op decisions, and the policy's entropy, per controller update: "
    "a learning controller concentrates on few ops and its entropy falls."
)


def _default_out(runs: Sequence[Run]) -> Path:
    if len(runs) == 1:
        return runs[0].path
    return Path(os.path.commonpath([r.path.resolve() for r in runs])) / "report"


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _best(runs: Sequence[Run]) -> dict[str, Any]:
    """The best cell over ``runs``: each run's `best_cell`, compared by its cell's score
    (`nas.results.duplicates.cell_scores`); the first run on a tie."""
    tops = [(top, run) for run in runs if (top := best_cell(run.trials)) is not None]
    if not tops:
        return {}
    trial, run = max(tops, key=lambda t: cell_scores(t[1].trials).get(t[0].trial_id, _score(t[0])))
    return {
        "run": run.name,
        "searcher": run.searcher,
        "trial_id": trial.trial_id,
        "val_accuracy": trial.val_accuracy,
        "score_by": trial.score_by,
        "score": trial.score,
        "params": trial.params,
        "mult_adds": trial.mult_adds,
        "genotype_id": genotype_id(trial.genotype),
        "genotype": trial.genotype,
    }


def _summary_section(runs: Sequence[Run]) -> Section:
    header = (
        "run",
        "searcher",
        "seed",
        "children",
        "completed",
        "stopped early",
        "failed",
        "rejected",
        "scored by",
        "best's val acc",
    )
    rows = [header]
    for run in runs:
        statuses = [t.status for t in run.trials]
        ranked = run.ranked()
        rows.append(
            (
                run.name,
                run.searcher,
                str(run.config.get("seed", "")),
                str(len(run.trials)),
                str(len(ranked)),
                str(statuses.count("stopped")),
                str(statuses.count("failed")),
                str(statuses.count("rejected")),
                run.score_by,
                _pct_of(ranked[0]) if ranked else "-",
            )
        )
    config = runs[0].config
    keys = (
        ("N", "C", "epochs", "verify_top") if config.get("weight_sharing") else ("N", "C", "epochs", "trials")
    )
    settings = ", ".join(f"{k}={config[k]}" for k in keys if k in config)
    if config.get("weight_sharing"):  # --epochs counts the supernet's epochs there
        settings = f"weight sharing, {settings.replace('epochs=', 'supernet epochs=')}"
    return Section("Runs", f"Settings of the first run: {settings}." if settings else "", table=tuple(rows))


def _run_section(run: Run, top: int, image: Callable[[str], Path]) -> Section:
    ranked = run.ranked()
    if not ranked:
        return Section(f"{run.label}", f"No completed child among {len(run.trials)}.")
    best = ranked[0]
    genotype = genotype_from_data(best.genotype)
    cells = draw_genotype(genotype, image(f"{run.name}_best_cells.png"))
    by_accuracy = run.score_by == "val_accuracy"
    scored = () if by_accuracy else (score_label(run.score_by),)
    # --retrain-duplicates: what each cell is ranked by, over how many samples (nas.results.duplicates)
    retrained = any(map(is_retrained, run.trials))
    samples, scores = (cell_samples(run.trials), cell_scores(run.trials)) if retrained else ({}, {})
    header = (
        "rank",
        "child",
        "finished #",
        "val acc",
        *scored,
        *(("samples", "cell score") if retrained else ()),
        "params",
        "mult-adds",
        "wall time",
        "genotype id",
    )
    rows = [header] + [
        (
            str(rank),
            t.trial_id,
            str(t.index),
            _pct_of(t),
            *(() if by_accuracy else (f"{t.measured:.4f}" if t.measured is not None else "-",)),
            *((str(len(samples[t.trial_id])), f"{scores[t.trial_id]:.4f}") if retrained else ()),
            _millions(t.params),
            _millions(t.mult_adds),
            f"{t.wall_s:.0f} s" if t.wall_s is not None else "-",
            genotype_id(t.genotype),
        )
        for rank, t in enumerate(ranked[:top], start=1)
    ]
    stopped = sum(t.status == "stopped" for t in run.trials)
    text = (
        f"{len(ranked)} of {len(run.trials)} children completed"
        + (
            f" ({stopped} more were stopped early by the scheduler; their fewer-epoch accuracies are "
            "not ranked)"
            if stopped
            else ""
        )
        + f". Ranked by {run.score_by}"
        + ("" if by_accuracy else f" (the score; {_SCORE_WHY.get(run.score_by, '')})")
        + (
            ", each cell by its cell score: the mean score of its trained samples (--retrain-duplicates), "
            "shrunk towards a ridge model of the other cells once its repeats measure the noise "
            "(nas/results/shrinkage.py)"
            if retrained
            else ""
        )
        + f". Best: child {best.trial_id} "
        f"(genotype {genotype_id(best.genotype)}), "
        + ("not trained" if best.val_accuracy is None else f"{_pct_of(best)} validation accuracy")
        + ". "
        f"Top {min(top, len(ranked))} children below (child: the searcher's trial id, as in "
        "trials.jsonl, the live view and `nas report`; finished #: the order they finished in), then "
        "the best child's cells." + _warm_text(run)
    )
    return Section(run.label, text, table=tuple(rows), images=(cells.as_posix(),))


def _warm_text(run: Run) -> str:
    """One sentence naming ``--warm-start``'s children, their proxy scores and accuracies."""
    if run.warm is None:
        return ""
    first: dict[str, TrialRow] = {}
    for t in sorted(run.trials, key=lambda t: int(t.trial_id) if t.trial_id.isdigit() else math.inf):
        first.setdefault(genotype_id(t.genotype), t)
    parts = []
    for cell in run.warm["cells"]:
        child = first.get(genotype_id(json.loads(cell["genotype"])))
        where = (
            "not run yet"
            if child is None
            else f"child {child.trial_id}" + (f", {_pct_of(child)}" if child.scored else f", {child.status}")
        )
        parts.append(f"{where} (score {cell['score']:.4g})")
    return (
        f" Warm start: the best {len(parts)} of {run.warm['n']} random cells by {run.warm['proxy']}: "
        + "; ".join(parts)
        + "."
    )


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _millions(x: float | None) -> str:
    return f"{x / 1e6:.3f}M" if x is not None else "-"


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path.as_posix()


def _plot_curves(runs: Sequence[Run], path: Path) -> str:
    """Left: every child of every run. Right: best-so-far, thin per run and bold per searcher (the
    mean over its runs, i.e. over seeds); random search's mean is the dashed baseline."""
    plt = pyplot()
    fig, (ax_child, ax_best) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    searchers = list(dict.fromkeys(run.searcher for run in runs))
    colors = dict(zip(searchers, _colors(len(searchers)), strict=True))
    for run in runs:
        done = run.completed()
        color = colors[run.searcher]
        ax_child.scatter([t.index + 1 for t in done], [_accuracy(t) for t in done], s=14, color=color)
        curve = best_so_far(run.trials)
        ax_best.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.3, lw=1, drawstyle="steps-post")
    for searcher in searchers:
        group = [r for r in runs if r.searcher == searcher]
        mean = _mean_curve(group)
        label = f"{searcher} (mean of {len(group)} runs)" if len(group) > 1 else searcher
        random = searcher == RANDOM_SEARCHER  # the baseline: dashed black
        style, color = ("--", "black") if random else ("-", colors[searcher])
        ax_best.plot(
            range(1, len(mean) + 1), mean, style, color=color, lw=2, drawstyle="steps-post", label=label
        )
        ax_child.scatter([], [], s=14, color=colors[searcher], label=searcher)
    for ax, title in ((ax_child, "accuracy of each child"), (ax_best, "best accuracy so far")):
        _style(ax, title, "children trained", _figure_label(runs))
    ax_child.legend(fontsize=8, loc="lower right")
    ax_best.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def _mean_curve(runs: Sequence[Run]) -> list[float]:
    """Mean over the runs' best-so-far curves, as long as the shortest of them."""
    curves = [best_so_far(r.trials) for r in runs]
    length = min((len(c) for c in curves), default=0)
    return [sum(c[k] for c in curves) / len(curves) for k in range(length)]


def _plot_pareto(runs: Sequence[Run], path: Path) -> str | None:
    """Accuracy vs mult-adds and vs params of every completed child; the front is over all runs."""
    children = [(t, run.label) for run in runs for t in run.completed() if t.params and t.mult_adds]
    if not children:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    colors = dict(zip([r.label for r in runs], _colors(len(runs)), strict=True))
    for ax, key, name in ((axes[0], "mult_adds", "mult-adds (M)"), (axes[1], "params", "params (M)")):
        points = [(getattr(t, key) / 1e6, _accuracy(t)) for t, _ in children]
        for label, color in colors.items():
            mine = [p for p, (_, lab) in zip(points, children, strict=True) if lab == label]
            ax.scatter([x for x, _ in mine], [y for _, y in mine], s=20, color=color, alpha=0.7, label=label)
        front = [points[i] for i in pareto_front(points)]
        ax.plot(
            [x for x, _ in front],
            [y for _, y in front],
            "-o",
            color="black",
            markerfacecolor="none",
            markersize=10,
            drawstyle="steps-post",
            label="Pareto front",
        )
        _style(ax, f"accuracy vs {name.split(' ')[0]}", name, _figure_label(runs))
    axes[1].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def _plot_shared_weights(runs: Sequence[Run], path: Path) -> tuple[str, str] | None:
    """The verified children of ``--weight-sharing`` runs: shared-weight score against the accuracy
    they reached trained alone, with Kendall's tau per run (how well its supernet ranks cells; Yu et
    al. 2020 found it near 0 for published weight-sharing searches)."""
    pairs = {run.label: shared_weight_pairs(run) for run in runs}
    taus = shared_weight_taus(pairs)
    if not taus:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for (run_label, (tau, n)), color in zip(taus.items(), _colors(len(taus)), strict=True):
        points = pairs[run_label]
        label = f"{run_label}: tau {tau:.2f} ({n} cells)"
        ax.scatter([x for x, _ in points], [y for _, y in points], s=24, color=color, label=label)
    _style(ax, "verified children", "shared-weight score", "stand-alone accuracy")
    ax.legend(fontsize=8, loc="lower right")
    per_run = "; ".join(f"{label} {tau:.2f} over {n} cells" for label, (tau, n) in taus.items())
    text = (
        "Each verified child's score under its run's shared weights (whole validation split) against its "
        f"validation accuracy trained alone. Kendall tau per run (1: the supernet ranks cells exactly as "
        f"training them does; 0: no better than chance): {per_run}. Scores of different runs come from "
        "different supernets and are not compared. The verified cells are the supernet's top-scored, a "
        "narrow range, and a tau over a few cells is mostly noise (over 5 cells its spread under no "
        "correlation is +-0.41): `bench/weight_sharing.py` measures the ranking over 20 random cells."
    )
    return _save(fig, path), text


def _select_section(run: Run, path: Path) -> Section:
    """The selection stage of a ``--select-top`` run: each retrained cell's mean accuracy over its seeds
    beside the search's score of it, ranked as the selection chose (`nas.results.selection`), and the
    one against the other with Kendall's tau: how well the search's proxy ranked its own top cells."""
    rows = [*run.trials, *run.select]
    means = sorted(selection_means(rows), key=lambda s: (-s.mean, s.first_index))
    scores = {cell_key(t.genotype): t for t in run.trials if t.scored}
    table = [("rank", "search child", "search score", "seeds", "mean val acc", "genotype id")]
    for rank, cell in enumerate(means, start=1):
        found = scores.get(cell_key(cell.genotype))
        table.append(
            (
                str(rank),
                found.trial_id if found else "-",
                f"{_score(found):.4f}" if found else "-",
                str(len(cell.accuracies)),
                _pct(cell.mean),
                genotype_id(cell.genotype),
            )
        )
    pairs = search_vs_select(rows)
    tau = kendall_tau([x for x, _ in pairs], [y for _, y in pairs]) if len(pairs) > 1 else math.nan
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(
        [x for x, _ in pairs], [y for _, y in pairs], s=24, label=f"tau {tau:.2f} ({len(pairs)} cells)"
    )
    _style(ax, f"selection: {run.label}", f"search score ({run.score_by})", "selection mean val accuracy")
    ax.legend(fontsize=8, loc="lower right")
    text = (
        f"The search's top {len(means)} cells retrained {run.config.get('select_epochs', '?')} epochs with "
        f"{run.config.get('select_seeds', '?')} seed(s) each (NASNet's protocol, Zoph et al. 2018 Sec. 4); "
        "best_genotype.json is the first row, the best mean validation accuracy over its seeds. Kendall "
        f"tau between the search's score and the selection mean: {tau:.2f} over {len(pairs)} cells "
        f"(chance band +-{chance_band(len(pairs)):.2f})."
    )
    return Section(f"Selection: {run.label}", text, table=tuple(table), images=(_save(fig, path),))


def table_pairs(run: Run) -> list[tuple[float, float]]:
    """(table accuracy, measured accuracy) of each completed child of a ``--benchmark --train`` run."""
    return [
        (t.table_accuracy, _accuracy(t))
        for t in run.completed()
        if t.table_accuracy is not None and t.duplicate_of is None
    ]


def chance_band(n: int) -> float:
    """Two standard deviations of Kendall's tau over ``n`` pairs under no correlation (Kendall 1938:
    variance 2(2n+5) / 9n(n-1)): a tau inside +-this is no evidence of a ranking."""
    return 2 * math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else math.inf


def _plot_table(runs: Sequence[Run], path: Path) -> tuple[str, str] | None:
    """Children of ``--benchmark --train`` runs: the accuracy the search measured (its proxy) against
    the table's 200-epoch test accuracy, Kendall's tau per run: how well the proxy ranks cells."""
    pairs = {run.label: table_pairs(run) for run in runs}
    pairs = {label: p for label, p in pairs.items() if p}
    if not pairs:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    taus = {label: (kendall_tau([x for x, _ in p], [y for _, y in p]), len(p)) for label, p in pairs.items()}
    for (label, (tau, n)), color in zip(taus.items(), _colors(len(taus)), strict=True):
        points = pairs[label]
        ax.scatter(
            [x for x, _ in points],
            [y for _, y in points],
            s=24,
            color=color,
            label=f"{label}: tau {tau:.2f} (n={n})",
        )
    _style(
        ax,
        "the search's proxy vs the benchmark",
        "table accuracy (200 epochs, test)",
        "measured " + _figure_label(runs).replace("validation", "val"),
    )
    ax.legend(fontsize=8, loc="lower right")
    per_run = "; ".join(
        f"{label}: tau {tau:.2f} over n={n} cells (chance band +-{chance_band(n):.2f})"
        for label, (tau, n) in taus.items()
    )
    text = (
        "Each completed child's validation accuracy (a --score zero_cost run's: its score, untrained) as "
        "this search measured it against its NAS-Bench-201 "
        "table accuracy (CIFAR-10 test, 200 epochs, Dong & Yang 2020). Kendall tau (1: the proxy ranks "
        f"cells as 200 epochs do; inside the chance band, two standard deviations of tau under no "
        f"correlation, it is no evidence of a ranking): {per_run}."
    )
    return _save(fig, path), text


def _plot_controller(run: Run, path: Path) -> str:
    plt = pyplot()
    # One stats row per told child; the policy changes only at updates, so keep each update's row.
    by_update = {int(s.get("updates", k)): s for k, s in enumerate(run.stats) if "op_probs" in s}
    steps, stats = list(by_update), list(by_update.values())
    fig, (ax_ops, ax_ent) = plt.subplots(1, 2, figsize=(12, 4.5))
    ops = sorted({op for s in stats for op in s["op_probs"]})
    for color, op in zip(_colors(len(ops)), ops, strict=True):
        ax_ops.plot(
            steps, [s["op_probs"].get(op, math.nan) for s in stats], color=color, label=op, marker="o", ms=3
        )
    ax_ops.legend(fontsize=7, ncol=2)
    _style(ax_ops, f"op probabilities: {run.label}", "controller update", "probability")
    ax_ent.plot(steps, [s.get("entropy", math.nan) for s in stats], color="tab:purple", marker="o", ms=3)
    _style(ax_ent, "policy entropy (nats, summed over decisions)", "controller update", "entropy")
    return _save(fig, path)


def _colors(n: int) -> list[Any]:
    cmap = pyplot().get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _markdown(sections: Sequence[Section], out_dir: Path) -> str:
    lines = ["# Search report", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        if s.text:
            lines += [s.text, ""]
        if s.table:
            lines.append("| " + " | ".join(s.table[0]) + " |")
            lines.append("|" + "---|" * len(s.table[0]))
            lines += ["| " + " | ".join(row) + " |" for row in s.table[1:]]
            lines.append("")
        lines += [f"![{s.title}]({_rel(Path(img), out_dir)})\n" for img in s.images]
    return "\n".join(lines)


def _html(sections: Sequence[Section], out_dir: Path) -> str:
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8"><title>Search report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Search report</h1>",
    ]
    for s in sections:
        parts.append(f"<h2>{esc(s.title)}</h2>")
        if s.text:
            parts.append(f"<p>{esc(s.text)}</p>")
        if s.table:
            head = "".join(f"<th>{esc(c)}</th>" for c in s.table[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in s.table[1:]
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        parts += [f'<img src="{esc(_rel(Path(img), out_dir))}" alt="{esc(s.title)}">' for img in s.images]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


_CSS = (
    "body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}"
    "th{background:#f0f0f0}img{max-width:100%;display:block;margin:1em 0;border:1px solid #eee}"
)
