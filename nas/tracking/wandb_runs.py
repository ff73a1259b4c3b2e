"""W&B tracking: one run per child and one for the searcher, all written from the driver.

All runs of a search share one W&B *group* (the search's run name), so the W&B UI shows the
controller's learning curve beside the children it proposed, as in Zoph et al. (2018), Fig. 5.

Children are logged by a Tune callback that only *enqueues* each event; one thread of the driver
(`_ChildRunWriter`) opens, logs and finishes the children's runs. Ray's own ``WandbLoggerCallback``
started two Ray actors per child (a queue and a logging process) and waited on them inside Tune's
loop: on 2 CPU cores each result cost Tune 1-2 s (``The 'callbacks.on_trial_result' operation took
1.851 s``). Here a hook costs microseconds (``bench/wandb_callback.py`` measures both), no process
is started per child, and the callback reaches the writer through a `DriverLocal`, so the copy Tune
pickles into its experiment folder carries no thread.

Only this module imports wandb, so a search with tracking disabled never pays its import time
(about a second) nor starts its service process. Everything is written under
``TrackingConfig.dir`` (``<dir>/wandb/offline-run-*`` when offline); offline runs are uploaded
later with ``wandb sync``. W&B prints nothing (``silent``, no console capture): the CLI owns the
terminal.

No call may hang or prompt: ``auto`` resolves to offline without ``WANDB_API_KEY``, offline
runs never touch the network, and an online searcher run that cannot reach the server within
``ONLINE_INIT_TIMEOUT_S`` falls back to offline (children included) instead of failing a search
that may take hours.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import queue
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import wandb
from ray.tune import Callback

from nas.errors import ConfigError, NasError
from nas.tracking.base import DriverLocal, TrackingConfig

logger = logging.getLogger(__name__)

#: Seconds an online ``wandb.init`` may wait for the server before we fall back to offline.
ONLINE_INIT_TIMEOUT_S = 30.0

#: Seconds `WandbTracker.finish` waits for the children's runs to be written.
CHILDREN_FLUSH_TIMEOUT_S = 120.0

#: Final-report fields of a child that belong in its W&B config (they describe the network).
CHILD_CONFIG_KEYS = ("params", "mult_adds")

#: Final-report fields that are strings, kept in the run's summary.
CHILD_SUMMARY_KEYS = ("status", "error")

#: Tune's bookkeeping in every result: not the child's metrics.
_TUNE_KEYS = frozenset(
    {
        "config",
        "done",
        "should_checkpoint",
        "timestamp",
        "pid",
        "training_iteration",
        "time_this_iter_s",
        "time_since_restore",
        "iterations_since_restore",
        "timesteps_since_restore",
        "checkpoint_dir_name",
        "date",
        "hostname",
        "node_ip",
        "trial_id",
        "experiment_tag",
    }
)


def _settings(mode: str) -> dict[str, Any]:
    """``wandb.init`` settings for every run of a search.

    ``silent`` and ``console="off"`` because the CLI owns the terminal; no git or code capture
    because a search is not a script run.
    """
    return {
        "silent": True,
        "console": "off",
        "disable_git": True,
        "save_code": False,
        "init_timeout": ONLINE_INIT_TIMEOUT_S if mode == "online" else 10.0,
    }


class _ChildRunWriter:
    """One driver thread that writes every child's run, so Tune's loop never waits on W&B.

    Events arrive in order per child (start, results, end) through one queue. A child's run logs
    each numeric result key per step, puts ``params``/``mult_adds`` into its config, and keeps the
    child's status, failure reason, final and best accuracy in its summary (a search ranks children
    by their best accuracy, while W&B's default summary is the last value).
    """

    def __init__(self, config: TrackingConfig, mode: str) -> None:
        self.config = config
        self.mode = mode
        self._queue: queue.Queue[tuple[str, str, Any] | None] = queue.Queue()
        self._runs: dict[str, Any] = {}
        self._best: dict[str, float] = {}
        self._thread = threading.Thread(target=self._work, name="wandb-children", daemon=True)
        self._thread.start()

    def submit(self, event: str, key: str, payload: Any) -> None:
        self._queue.put((event, key, payload))

    def close(self, timeout: float = CHILDREN_FLUSH_TIMEOUT_S) -> None:
        """Write what is queued, finish the runs still open (children stopped by Ctrl-C), stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("W&B: children's runs still being written after %.0f s; leaving them", timeout)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            event, key, payload = item
            try:
                getattr(self, f"_{event}")(key, payload)
            except Exception as exc:  # tracking must never end a search
                logger.warning("W&B: could not log %s of child %s: %s", event, key, exc)
        for key in list(self._runs):
            self._end(key, {"status": "interrupted", "error": "the search stopped before this child ended"})

    def _start(self, key: str, payload: Mapping[str, Any]) -> None:
        if key in self._runs:
            return
        self._runs[key] = wandb.init(
            project=self.config.project,
            entity=self.config.entity,
            group=self.config.group,
            # The selection stage's children (`nas.search.selection`) apart from the search's.
            job_type="select-child" if payload["config"].get("stage") == "select" else "child",
            name=payload["name"],
            dir=str(self.config.dir),
            mode=_wandb_mode(self.mode),
            config=dict(payload["config"]),
            settings=wandb.Settings(**_settings(self.mode)),
            reinit="create_new",
        )

    def _result(self, key: str, result: Mapping[str, Any]) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        config = {k: result[k] for k in CHILD_CONFIG_KEYS if result.get(k) is not None}
        if config:
            run.config.update(config, allow_val_change=True)
        metrics = {
            k: float(v)
            for k, v in result.items()
            if k not in _TUNE_KEYS
            and k not in CHILD_CONFIG_KEYS
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
        }
        if metrics:
            step = result.get("training_iteration")
            run.log(metrics, step=int(step) if isinstance(step, int) else None)
        summary = {k: result[k] for k in CHILD_SUMMARY_KEYS if k in result}
        accuracy = result.get("val_accuracy")
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            best = max(self._best.get(key, -math.inf), float(accuracy))
            self._best[key] = best
            summary["final_val_accuracy"] = float(accuracy)
            summary["best_val_accuracy"] = best
        if summary:
            run.summary.update(summary)

    def _end(self, key: str, summary: Mapping[str, Any] | None) -> None:
        run = self._runs.pop(key, None)
        self._best.pop(key, None)
        if run is None:
            return
        if summary:
            run.summary.update(dict(summary))
        run.finish()


class ChildLoggerCallback(Callback):
    """Tune's side of the children's runs: hands each event to the driver's `_ChildRunWriter`.

    Each trial's ``config`` (the genotype JSON, ``N``, ``C``, searcher, seed...) becomes its run's
    config; a child that Ray saw fail (a crash or a kill, which never sends a final report) gets
    status ``error`` and the last line of its traceback.
    """

    def __init__(self, writer: _ChildRunWriter) -> None:
        self.writer = DriverLocal(writer)

    def _submit(self, event: str, trial: Any, payload: Any) -> None:
        writer = self.writer.get()
        if writer is not None:
            writer.submit(event, str(trial.trial_id), payload)

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        writer = self.writer.get()
        group = writer.config.group if writer is not None else ""
        name = f"{group}-child-{trial.config.get('proposal_id', trial.trial_id)}"
        config = {k: v for k, v in trial.config.items() if isinstance(v, (str, int, float, bool, type(None)))}
        self._submit("start", trial, {"name": name, "config": config})

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        self._submit("result", trial, dict(result))

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._submit("end", trial, None)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._submit("end", trial, {"status": "error", "error": _trial_error(trial)})


def _trial_error(trial: Any) -> str:
    """The last line of the traceback Ray saved for ``trial`` (the exception), if any."""
    path = trial.error_file
    if path and Path(path).is_file():
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "trial failed (no error file)"


def _series(stats: Mapping[str, Any]) -> dict[str, float]:
    """Searcher stats as W&B scalars: nested mappings (``op_probs``) become ``op_prob/<op>``."""
    out: dict[str, float] = {}
    for key, value in stats.items():
        if isinstance(value, Mapping):
            prefix = "op_prob" if key == "op_probs" else key
            out.update({f"{prefix}/{sub}": float(v) for sub, v in value.items()})
        elif isinstance(value, (int, float)):
            out[key] = float(value)
    return out


def _wandb_mode(mode: str) -> Literal["online", "offline"]:
    if mode == "online":
        return "online"
    if mode == "offline":
        return "offline"
    raise ConfigError(f"W&B tracking runs online or offline, not {mode!r} (disabled is the NullTracker)")


def _init_run(config: TrackingConfig, *, job_type: str, run_config: Mapping[str, Any]) -> tuple[Any, str]:
    """``wandb.init`` one run of ``config.group`` in ``config.dir``; returns the run and its mode.

    An online run whose server cannot be reached falls back to offline (upload later with
    ``wandb sync``) rather than failing work that may have taken hours.
    """
    mode = _wandb_mode(config.resolved_mode())
    config.dir.mkdir(parents=True, exist_ok=True)

    def init(mode: str) -> Any:
        return wandb.init(
            project=config.project,
            entity=config.entity,
            group=config.group,
            job_type=job_type,
            name=f"{config.group}-{job_type}",
            dir=str(config.dir),
            mode=_wandb_mode(mode),
            config=dict(run_config),
            settings=wandb.Settings(**_settings(mode)),
            # Other runs may be live in this process (e.g. tests); never finish or reuse them.
            reinit="create_new",
        )

    try:
        return init(mode), mode
    except wandb.errors.Error as exc:
        if mode != "online":
            raise
        logger.warning("W&B unreachable (%s); tracking offline, upload later with `wandb sync`", exc)
        return init("offline"), "offline"


class WandbTracker:
    """The W&B `nas.tracking.base.Tracker`: the searcher run lives in the driver from construction on."""

    def __init__(self, config: TrackingConfig, *, searcher_config: Mapping[str, Any]) -> None:
        self.config = dataclasses.replace(config, dir=config.dir.resolve())
        self.run, self.mode = _init_run(
            self.config, job_type=self.config.job_type, run_config=searcher_config
        )
        self._children: _ChildRunWriter | None = None
        logger.info("W&B %s: searcher run %s in %s", self.mode, self.run.id, self.config.dir / "wandb")

    def tune_callbacks(self) -> list[Any]:
        if self._children is None:
            self._children = _ChildRunWriter(self.config, self.mode)
        return [ChildLoggerCallback(self._children)]

    def log_searcher(self, step: int, stats: Mapping[str, Any]) -> None:
        self.run.log(_series(stats), step=step)

    def finish(self, *, best_genotype: Path | None, artifacts: Sequence[Path] = ()) -> None:
        """Log the best genotype (and its diagrams) as one ``genotype`` artifact, then close.

        The artifact, not just the summary, because a later ``nas train``/``nas transfer`` can
        fetch it by name (``<group>-best-genotype:latest``) from any machine. ``immutable`` files
        are referenced where they are (in the run folder) instead of copied to W&B's staging
        folder in the home directory, so an offline search writes nothing outside ``config.dir``.
        """
        if self._children is not None:
            self._children.close()
            self._children = None
        diagrams = []
        if best_genotype is not None and best_genotype.is_file():
            from nas.space.diagram import draw_genotype
            from nas.space.load import load_genotype  # either space's genotype (NASNet, NAS-Bench-201)

            try:
                diagrams = [draw_genotype(load_genotype(best_genotype), best_genotype.with_suffix(".png"))]
            except NasError as exc:  # the run's files must still be logged and closed
                logger.warning("no cell diagram of %s: %s", best_genotype, exc)
        files = [
            p for p in [*([best_genotype] if best_genotype else []), *diagrams, *artifacts] if p.is_file()
        ]
        if files:
            name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{self.config.group}-best-genotype")
            artifact = wandb.Artifact(name=name, type="genotype")
            for path in files:
                artifact.add_file(str(path), policy="immutable")
            self.run.log_artifact(artifact)
        if best_genotype is not None and best_genotype.is_file():
            self.run.summary["best_genotype"] = best_genotype.read_text()
        self.run.finish()
        if self.mode == "offline":
            logger.info(
                "W&B runs saved offline; upload with: wandb sync %s/wandb/offline-run-*", self.config.dir
            )


TRANSFER_CONFIG_KEYS = (
    "genotype",
    "dataset",
    "N",
    "F",
    "C",
    "image_size",
    "num_classes",
    "params",
    "mult_adds",
)
TRANSFER_SUMMARY_KEYS = (
    "top1",
    "top5",
    "best_top1",
    "epochs",
    "images_per_s",
    "wall_s",
    "train_s",
    "workers",
)


def log_transfer_run(config: TrackingConfig, record: Mapping[str, Any]) -> None:
    """The W&B side of `nas.tracking.base.log_transfer`: logged once training has ended, epoch by epoch."""
    run_config = {k: record[k] for k in TRANSFER_CONFIG_KEYS if k in record}
    recipe = record.get("config", {})
    run_config |= {k: v for k, v in recipe.items() if k not in ("genotype", "network")}
    run_config["genotype_json"] = recipe.get("genotype")
    run, mode = _init_run(
        dataclasses.replace(config, dir=config.dir.resolve()), job_type="transfer", run_config=run_config
    )
    history = record["history"]
    per_epoch = zip(
        history["top1"], history["top5"], history["train_loss"], history["images_per_s"], strict=True
    )
    for epoch, (top1, top5, loss, speed) in enumerate(per_epoch, 1):
        run.log({"top1": top1, "top5": top5, "train_loss": loss, "images_per_s": speed}, step=epoch)
    run.summary.update({k: record[k] for k in TRANSFER_SUMMARY_KEYS if k in record})
    run.finish()
    logger.info("W&B %s: transfer run %s in %s", mode, run.id, config.dir / "wandb")
