"""Run a search: Ray Tune schedules the children, the adapter feeds the searcher, the run folder keeps books.

Resume design. Every attempt (first run or ``--resume``) builds a *fresh* ``Tuner`` in its own folder
``<run>/ray/attempt-<k>`` and never calls ``Tuner.restore``. Tune's own restore rebuilds trials from its
experiment snapshot, which it writes periodically and not in step with our leaderboard: after a
``kill -9`` that snapshot may list a child as running that the leaderboard already holds (it would be
trained twice) or miss one that was started (its proposal would be lost), and it restores the search
algorithm from Tune's checkpoint rather than from ``searcher_state.json``. Instead the leaderboard
(``trials.jsonl``) is the truth: ``len(rows)`` children are done, the searcher's snapshot and journal
(`nas.searcher.checkpoint.SearcherCheckpoint`) say which proposals were issued, and `nas.search.tune_adapter.replay_told` tells
the finished ones and reruns the unfinished ones under their original proposal ids. The new Tuner's
``num_samples`` is the budget left, so the run ends with exactly the budgeted children.

Children load CIFAR-10 inside their worker, once per process (`_cached_data`), instead of shipping
arrays through the object store: with ``reuse_actors=True`` a worker trains many children, and a
subset of the batch files reads in well under a second.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from nas.errors import ConfigError, NasError, describe
from nas.results.run_folder import RunFolder, read_json, write_json
from nas.results.trial import TrialStatus, is_ranked, score_of
from nas.search.settings import ChildSettings, SearchSettings

if TYPE_CHECKING:
    from nas.proxies.score import Scorer
    from nas.search.tune_adapter import ChildListener
    from nas.searcher.base import Searcher
    from nas.tracking.base import Tracker
    from nas.train.data import CifarData

logger = logging.getLogger(__name__)

TUNE_ENV = {
    # The run folder keeps every child's row; Tune's own CSV/JSON/TensorBoard logger files would be
    # more files per child (60,000 at NASNet's 20,000 children) that nothing reads.
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    # A resume never reads Tune's experiment state (module docstring); by default Tune rewrites it,
    # every trial included, at least every 10 s. `bench/driver_scale.py` measures both.
    "TUNE_GLOBAL_CHECKPOINT_S": "600",
}
"""Ray Tune settings chosen for searches of thousands of children (set unless the user set them)."""


def apply_tune_env() -> None:
    """Set `TUNE_ENV` (where unset) before a ``Tuner`` is built."""
    for key, value in TUNE_ENV.items():
        os.environ.setdefault(key, value)
    # Without those logger files Tune's end-of-fit result grid warns once per child; we read none of it.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


SETTINGS_BEFORE_THEY_EXISTED: dict[str, Any] = {"score": "val_accuracy"}
"""What a run whose ``config.json`` predates a setting did instead: children were scored by their
accuracy before ``--score`` existed (its default is now val_loss)."""


def open_run(settings: SearchSettings) -> RunFolder:
    """The run folder of ``settings`` (``name`` must be set); its config is written on first use."""
    assert settings.name is not None
    run = RunFolder(Path(settings.results_dir) / settings.name)
    if not run.is_run():
        run.path.mkdir(parents=True, exist_ok=True)
        write_json(run.config, settings.to_dict())
    return run


def load_run_settings(path: Path, *, flag: str = "--resume") -> SearchSettings:
    """The settings a run was started with; a folder that is not a run is a `NasError` naming ``flag``."""
    run = RunFolder(path)
    if not run.is_run():
        raise NasError(f"{flag}: {path} is not a search run folder (no config.json there)")
    try:
        return SearchSettings.from_dict({**SETTINGS_BEFORE_THEY_EXISTED, **read_json(run.config)})
    except (ValueError, TypeError) as exc:
        raise NasError(f"{flag}: {run.config} is not a readable run config ({exc})") from None


def check_data(settings: SearchSettings) -> Path:
    """Fail fast, before Ray starts, when CIFAR-10 is missing and cannot be downloaded; return the
    batches folder (absolute), for the workers to read. ``config.json`` keeps the folder as given."""
    from nas.train.data import ensure_cifar10

    return ensure_cifar10(settings.data_dir, download=settings.download).resolve()


def _cluster_slots(settings: SearchSettings) -> tuple[float, int]:
    """GPUs per child (0 without GPUs) and how many children run at once."""
    import ray

    from nas.search.cluster import gpus_per_task

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus = gpus_per_task(settings.gpus_per_trial)
    if settings.max_concurrent is not None:
        return gpus, settings.max_concurrent
    slots = int(resources.get("CPU", 1) // settings.cpus_per_trial)
    if gpus > 0:
        slots = min(slots, int(resources.get("GPU", 0) // gpus))
    return gpus, max(slots, 1)


def tell_lag(settings: SearchSettings, gpus: float, concurrent: int) -> int | None:
    """`TuneSearcherAdapter`'s L: results told in ask order (``--tell-order asked``, the default without
    GPUs) with up to 2C - 1 children asked and untold for C at a time, so one child may finish ahead
    of an older one and the next starts at once; None: told as they arrive."""
    order = settings.tell_order or ("arrival" if gpus > 0 else "asked")
    return 2 * concurrent - 1 if order == "asked" else None


def check_resources(settings: SearchSettings) -> None:
    """Refuse, after connecting and before Tune starts, a child the cluster can never hold: Tune
    would wait for it forever, without a word of ours."""
    import ray

    totals: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    cpus, gpus = totals.get("CPU", 0.0), totals.get("GPU", 0.0)
    if settings.cpus_per_trial > cpus:
        raise ConfigError(
            f"--cpus-per-trial {settings.cpus_per_trial:g}: the cluster has {cpus:g} CPUs in all"
        )
    if settings.gpus_per_trial and settings.gpus_per_trial > gpus:
        raise ConfigError(
            f"--gpus-per-trial {settings.gpus_per_trial:g}: the cluster has {gpus:g} GPUs in all"
        )


def resource_wait(max_wait: float, resources: Mapping[str, float]) -> Any:
    """A Tune callback that stops the search when children wait for resources (some pending, none
    running) longer than ``max_wait`` seconds: the cluster shrank, or other jobs hold it. Raised from
    ``on_step_end``, the error ends ``Tuner.fit``; the waiting proposals stay outstanding in the saved
    searcher state, so ``--resume`` trains them later."""
    from ray.tune import Callback

    class _ResourceWait(Callback):  # type: ignore[misc]
        since: float | None = None

        def on_step_end(self, iteration: int, trials: Sequence[Any], **info: Any) -> None:
            statuses = {t.status for t in trials}
            if "PENDING" not in statuses or "RUNNING" in statuses:
                self.since = None
                return
            now = time.monotonic()
            self.since = self.since if self.since is not None else now
            if now - self.since > max_wait:
                wanted = ", ".join(f"{v:g} {k}" for k, v in resources.items() if v)
                raise NasError(
                    f"--max-wait {max_wait:g}: no child could start for {now - self.since:.0f} s (each needs "
                    f"{wanted}; the cluster has {_free_text()} free); the search stopped, resume it with --resume"
                )

    return _ResourceWait()


def _free_text() -> str:
    import ray

    free: dict[str, float] = ray.available_resources()  # type: ignore[no-untyped-call]
    return ", ".join(f"{free.get(k, 0.0):g} {k}" for k in ("CPU", "GPU"))


@functools.lru_cache(maxsize=2)
def _cached_data(data_dir: str | None, train_size: int, val_size: int, split_seed: int) -> CifarData:
    from nas.train.data import load_cifar10

    return load_cifar10(data_dir, train_size=train_size, val_size=val_size, split_seed=split_seed)


def train_trial(config: dict[str, Any], child: ChildSettings) -> None:
    """Ray Tune function trainable: train one child and report every epoch with ``ray.tune.report``.

    Every report carries a finite ``score`` (the child's score so far by the run's ``--score``,
    `nas.results.trial.score_of`; 0.0 for a failed or rejected child) so ASHA and the searcher always
    see a number, and a trained child's ``val_accuracy``; ``best_score`` is the row's (None without
    one). ``--score zero_cost`` trains nothing: `_report_zero_cost`. The last
    epoch's metrics are held back and sent with the whole `ChildResult` in one final report: a
    separate final report would be iteration ``epochs + 1``, which ASHA (``max_t=epochs``) never lets
    through.
    """
    from ray import tune

    from nas.search.tune_adapter import genotype_of
    from nas.train.trainer import train_child

    started = time.perf_counter()
    table_accuracy: float | None = None
    if child.benchmark is not None:
        try:
            table_accuracy = _table_accuracy(child.benchmark, config)
        except NasError as exc:  # a cell the table lacks: a failed row that says so
            _report_failure(config, exc)
            return
        if child.tabular:
            _report_tabular(config, table_accuracy, time.perf_counter() - started)
            return
    if child.score_by == "zero_cost":
        _report_zero_cost(config, child, table_accuracy, started)
        return
    train_config = child.train.for_trial(str(config["proposal_id"]))
    try:
        data = _cached_data(child.data_dir, child.train_size, child.val_size, child.split_seed)
    except Exception as exc:  # the leaderboard's reason is this first line, not a pointer to error.txt
        _report_failure(config, exc)
        return
    history: list[float] = []
    last: dict[str, Any] = {}

    def report(epoch: int, metrics: Mapping[str, float]) -> None:
        history.append(float(metrics["val_accuracy"]))
        score = score_of(
            child.score_by,
            val_accuracy=metrics["best_val_accuracy"],
            val_loss=metrics["best_val_loss"],
            train_loss_sum=metrics["train_loss_sum"],
            steps=int(metrics["steps"]),
        )
        last.clear()
        last.update(metrics, epoch=epoch, status="running", val_accuracy_history=list(history))
        last.update(best_score=score, score=0.0 if score is None else score)
        last["wall_s"] = time.perf_counter() - started  # a child stopped early keeps its time
        if epoch < train_config.epochs:
            tune.report(dict(last))

    try:
        result = train_child(genotype_of(config), child.network, train_config, data, report=report)
    except NasError as exc:  # sizes the data cannot give: refused before any work, reported as such
        _report_failure(config, exc)
        return
    final = {**last, **result.to_dict(), "proposal_id": config["proposal_id"]}
    final["best_val_accuracy"] = result.val_accuracy
    final["val_accuracy"] = result.val_accuracy if is_ranked(result.status, result.val_accuracy) else 0.0
    final["best_val_loss"] = result.val_loss
    final["best_score"] = score = result.score(child.score_by)
    final["score"] = score if is_ranked(result.status, score) and score is not None else 0.0
    final["table_accuracy"] = table_accuracy
    tune.report(final)


def _table_accuracy(benchmark: str, config: Mapping[str, Any]) -> float:
    """The cell's 200-epoch CIFAR-10 test accuracy from the --benchmark table, in [0, 1] (the table
    is read once per worker process: `nas.space.nb201_table.load_table` caches it)."""
    from nas.search.tune_adapter import genotype_of
    from nas.space.nb201 import Nb201Genotype
    from nas.space.nb201_table import load_table

    genotype = genotype_of(config)
    assert isinstance(genotype, Nb201Genotype)  # --benchmark is refused with another space
    return load_table(benchmark).accuracy(genotype, "cifar10") / 100.0


def _report_tabular(config: Mapping[str, Any], accuracy: float, wall_s: float) -> None:
    """A tabular child's one report: the table's accuracy as its reward, as a completed 1-epoch child
    (Dong & Yang 2020's "query" of the benchmark in place of training)."""
    from ray import tune

    tune.report(
        {
            "status": "completed",
            "val_accuracy": accuracy,
            "best_val_accuracy": accuracy,
            "score": accuracy,  # tabular mode scores by the table's accuracy (`SearchSettings.score_by`)
            "best_score": accuracy,
            "table_accuracy": accuracy,
            "val_accuracy_history": [accuracy],
            "wall_s": wall_s,
            "proposal_id": config["proposal_id"],
        }
    )


@functools.lru_cache(maxsize=2)
def _cached_scorer(space: str, N: int, C: int, seed: int, data_dir: str | None) -> Scorer:
    from nas.proxies.score import Scorer, ScoreSettings

    return Scorer(ScoreSettings(space, ("synflow_naswot", "params", "flops"), N, C, None, seed, data_dir))


def _report_zero_cost(
    config: Mapping[str, Any], child: ChildSettings, table_accuracy: float | None, started: float
) -> None:
    """``--score zero_cost``: the child is scored untrained by the ``synflow_naswot`` proxy on one
    minibatch drawn with the search's seed (the same for every child: common random numbers), one
    completed report with a score and no accuracy (`nas.results.trial.score_of`; the scheduler and
    the searcher read the score only). A cell the proxy cannot score (not finite) is a failed row
    that says so."""
    from ray import tune

    from nas.search.tune_adapter import genotype_of

    try:
        scorer = _cached_scorer(
            str(config["space"]), child.network.N, child.network.C, child.split_seed, child.data_dir
        )
        scores = scorer.score(genotype_of(config))  # type: ignore[arg-type]
    except Exception as exc:  # the leaderboard's reason is this first line, not a pointer to error.txt
        _report_failure(config, exc)
        return
    score = score_of(
        "zero_cost",
        val_accuracy=None,
        val_loss=None,
        train_loss_sum=None,
        steps=0,
        zero_cost=scores["synflow_naswot"],
    )
    tune.report(
        {
            "status": "completed",
            "score": score,
            "best_score": score,
            "zero_cost": scores["synflow_naswot"],
            "params": int(scores["params"]),
            "mult_adds": int(scores["flops"]),
            "table_accuracy": table_accuracy,
            "val_accuracy_history": [],
            "wall_s": time.perf_counter() - started,
            "proposal_id": config["proposal_id"],
        }
    )


def _report_failure(config: Mapping[str, Any], exc: Exception) -> None:
    """Report a child that could not start as failed, with its exception's first line as the reason."""
    from ray import tune

    tune.report(
        {
            "status": "failed",
            "error": describe(exc),
            "val_accuracy": 0.0,
            "score": 0.0,
            "proposal_id": config["proposal_id"],
        }
    )


def _trial_dirname(trial: Any) -> str:
    """``child-<proposal id>-<Tune id>`` instead of Tune's default, which spells out the genotype JSON."""
    return f"child-{trial.config.get('proposal_id', 'x')}-{trial.trial_id}"


def _build_searcher(settings: SearchSettings, run: RunFolder) -> Searcher:
    from nas.search.searcher import build_space, create_searcher

    space = build_space(settings.space, blocks=settings.blocks)
    return create_searcher(
        settings.searcher, space, seed=settings.seed, run_dir=run.path, **settings.searcher_options
    )


def _warm_choices(settings: SearchSettings, run: RunFolder, searcher: Searcher) -> list[list[int]]:
    """The choices of ``--warm-start``'s cells (scored now, or read back on a resume); none without it."""
    if settings.warm_start is None:
        return []
    from nas.search.warm_start import WarmStart, load_or_score

    warm = WarmStart.parse(settings.warm_start)
    cells = load_or_score(
        run,
        warm,
        searcher.space,
        space_name=settings.space,
        seed=settings.seed,
        N=settings.N,
        C=settings.C,
        data_dir=settings.data_dir,
    )
    logger.info(
        "warm start: the first %d children are the best of %d cells by %s", len(cells), warm.n, warm.proxy
    )
    return [[int(c) for c in cell["choices"]] for cell in cells]


def _build_tracker(settings: SearchSettings, run: RunFolder) -> Tracker:
    from nas.tracking.base import NullTracker, TrackingConfig
    from nas.tracking.factory import create_tracker

    config = TrackingConfig(
        mode=settings.wandb,
        project=settings.wandb_project,
        entity=settings.wandb_entity,
        group=run.path.name,
        dir=run.path,
        job_type="searcher" if run.stage == "search" else run.stage,
    )
    try:
        return create_tracker(config, searcher_config=settings.to_dict())
    except ModuleNotFoundError as exc:
        if settings.wandb != "auto":
            raise NasError(f"--wandb {settings.wandb}: W&B tracking is unavailable ({exc})") from None
        logger.warning("W&B tracking unavailable (%s); tracking disabled", exc)
        return NullTracker()


@dataclass(frozen=True)
class SearchOutcome:
    """What the command prints at the end (``--json`` prints `to_dict`)."""

    run_dir: str
    budget: int
    trials_done: int
    trials_completed: int
    trials_stopped: int
    trials_failed: int
    trials_rejected: int
    trials_duplicate: int  # proposals told a recorded result, not trained (not counted in trials_done)
    best_val_accuracy: float | None
    best_trial_id: str | None
    best_genotype: str | None
    wall_s: float
    attempt: int
    note: str | None = None  # why the search ended short of its budget, if it did
    score_by: str = "val_accuracy"  # what the best child was chosen by (--score)
    best_measured: float | None = None  # the best child's figure of score_by (its accuracy or loss)
    best_score: float | None = None  # and its score (`nas.results.trial.score_of`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    run: RunFolder,
    budget: int,
    wall_s: float,
    attempt: int,
    note: str | None = None,
    *,
    score_by: str = "val_accuracy",
) -> SearchOutcome:
    from nas.results.duplicates import best_cell, evaluated, is_told_duplicate

    all_rows = run.trials()
    rows = [r for r in all_rows if not is_told_duplicate(r)]
    top = best_cell(rows)
    counts = {s: sum(r.status == s for r in rows) for s in get_args(TrialStatus)}
    return SearchOutcome(
        run_dir=str(run.path),
        budget=budget,
        trials_done=evaluated(all_rows),
        trials_completed=counts["completed"],
        trials_stopped=counts["stopped"],
        trials_failed=counts["failed"],
        trials_rejected=counts["rejected"],
        trials_duplicate=len(all_rows) - len(rows),
        best_val_accuracy=None if top is None else top.val_accuracy,
        best_trial_id=None if top is None else top.trial_id,
        best_genotype=str(run.best_genotype) if top is not None else None,
        wall_s=wall_s,
        attempt=attempt,
        note=note,
        score_by=score_by,
        best_measured=None if top is None else top.measured,
        best_score=None if top is None else top.score,
    )


def run_search(
    settings: SearchSettings,
    run: RunFolder,
    *,
    listeners: Sequence[ChildListener] = (),
    callbacks: Sequence[Any] = (),
    searcher: Searcher | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SearchOutcome:
    """Train the children the budget has left in ``run`` (Ray must be connected; see `connect`).

    ``searcher``: one built by the caller (``--weight-sharing``'s verification list), else the
    settings'. ``should_stop``, polled by Tune between its steps, ends the search early (the CLI's
    Ctrl-C), as does a full disk (`TuneSearcherAdapter.no_room`, raised at the end): running children
    are stopped and stay outstanding for ``--resume``.
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from nas.search.tune_adapter import METRIC, StopWhen, TuneSearcherAdapter

    started = time.perf_counter()
    attempt = len(list(run.ray_dir.glob("attempt-*"))) + 1 if run.ray_dir.exists() else 1
    tracker = _build_tracker(settings, run)
    searcher = _build_searcher(settings, run) if searcher is None else searcher
    gpus, concurrent = _cluster_slots(settings)
    adapter = TuneSearcherAdapter(
        searcher,
        warm=_warm_choices(settings, run, searcher),
        searcher_name=settings.searcher,
        run=run,
        budget=settings.trials,
        tracker=tracker,
        listeners=listeners,
        trial_metadata={
            "searcher": settings.searcher,
            "space": settings.space,
            "seed": settings.seed,
            "N": settings.N,
            "C": settings.C,
            "blocks": settings.blocks,
            "epochs": settings.epochs,
            "benchmark": settings.benchmark,
            "stage": run.stage,  # W&B shows each child's stage (search, or select: `nas.search.selection`)
        },
        stopping=should_stop,
        max_samples=settings.max_samples if settings.retrain_duplicates else 1,
        score_by=settings.score_by,
        tell_lag=tell_lag(settings, gpus, concurrent),
    )
    remaining = settings.trials - adapter.done
    try:
        if remaining > 0:
            scheduler = (
                ASHAScheduler(metric=METRIC, mode="max", max_t=settings.epochs, grace_period=1)
                if settings.scheduler == "asha"
                else None
            )
            apply_tune_env()
            trainable = tune.with_parameters(train_trial, child=ChildSettings.of(settings))
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": settings.cpus_per_trial, "gpu": gpus}),
                tune_config=tune.TuneConfig(
                    search_alg=adapter,
                    max_concurrent_trials=concurrent,
                    num_samples=remaining,
                    scheduler=scheduler,
                    reuse_actors=True,
                    trial_dirname_creator=_trial_dirname,
                ),
                run_config=tune.RunConfig(
                    name=f"attempt-{attempt}",
                    storage_path=str(run.ray_dir.resolve()),
                    failure_config=tune.FailureConfig(max_failures=settings.max_failures),
                    stop=StopWhen(
                        lambda: adapter.no_room is not None or (should_stop is not None and should_stop())
                    ),
                    callbacks=[
                        *callbacks,
                        *tracker.tune_callbacks(),
                        resource_wait(settings.max_wait, {"CPU": settings.cpus_per_trial, "GPU": gpus}),
                    ],
                    verbose=0,
                ),
            )
            logger.info(
                "attempt %d: %d children left, %d at a time, %s GPU each",
                attempt,
                remaining,
                concurrent,
                gpus,
            )
            tuner.fit()
    finally:
        adapter.finish()
        searcher.close()
    outcome = summarize(
        run,
        settings.trials,
        time.perf_counter() - started,
        attempt,
        adapter.exhausted,
        score_by=settings.score_by,
    )
    tracker.finish(
        best_genotype=run.best_genotype if run.best_genotype.exists() else None,
        artifacts=[run.trials_jsonl, run.trials_csv],
    )
    return outcome
