"""W&B tracking: one run per child (through Ray Tune's W&B callback) and one for the searcher.

All runs of a search share one W&B *group* (the search's run name), so the W&B UI shows the
controller's learning curve beside the children it proposed, as in Zoph et al. (2018), Fig. 5.

Only this module imports wandb, so a search with tracking disabled never pays its import time
(about a second) nor starts its service process. Everything is written under
``TrackingConfig.dir`` (``<dir>/wandb/offline-run-*`` when offline); offline runs are uploaded
later with ``wandb sync``.

No call may hang or prompt: ``auto`` resolves to offline without ``WANDB_API_KEY``, offline
runs never touch the network, and an online searcher run that cannot reach the server within
``ONLINE_INIT_TIMEOUT_S`` falls back to offline (children included) instead of failing a search
that may take hours.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import wandb
from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor

from nas.errors import ConfigError, NasError
from nas.tracking.base import TrackingConfig

logger = logging.getLogger(__name__)

#: Seconds an online ``wandb.init`` may wait for the server before we fall back to offline.
ONLINE_INIT_TIMEOUT_S = 30.0

#: Final-report fields of a child that belong in its W&B config (they describe the network).
CHILD_CONFIG_KEYS = ("params", "mult_adds")

#: Final-report fields that are strings, which Ray's callback would drop from the log.
CHILD_SUMMARY_KEYS = ("status", "error")


def _settings(mode: str) -> dict[str, Any]:
    """``wandb.init`` settings for every run of a search.

    ``silent`` and ``console="off"`` because the CLI owns the terminal (and Ray would forward
    each child's banner to it); no git or code capture because a search is not a script run.
    """
    return {
        "silent": True,
        "console": "off",
        "disable_git": True,
        "save_code": False,
        "init_timeout": ONLINE_INIT_TIMEOUT_S if mode == "online" else 10.0,
    }


class _ChildLoggingActor(_WandbLoggingActor):
    """Ray's per-trial logging actor, plus the child's summary.

    Ray logs every numeric result key per step but drops strings, so a child's ``status`` and
    failure reason would be lost; and W&B's default summary is the last value, while a search
    ranks children by their best accuracy. Both go into the run summary here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._best_accuracy = -math.inf

    def _handle_result(self, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        log, config_update = super()._handle_result(result)
        summary = {key: result[key] for key in CHILD_SUMMARY_KEYS if key in result}
        accuracy = result.get("val_accuracy")
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            self._best_accuracy = max(self._best_accuracy, float(accuracy))
            summary["final_val_accuracy"] = float(accuracy)
            summary["best_val_accuracy"] = self._best_accuracy
        if summary:
            self._wandb.run.summary.update(summary)
        return log, config_update


class ChildLoggerCallback(WandbLoggerCallback):
    """Ray's `WandbLoggerCallback` with the child summary, no API-key demand offline, and a
    summary for trials Ray itself saw fail (a crash or a kill, which never sends a final report).

    Each trial's ``config`` (the genotype JSON, ``N``, ``C``, searcher, seed...) becomes the W&B
    config as Ray does it; ``params`` and ``mult_adds`` from the final report join it.
    """

    # Ray reads this class attribute (a list) to send these result keys to the config.
    AUTO_CONFIG_KEYS = [*WandbLoggerCallback.AUTO_CONFIG_KEYS, *CHILD_CONFIG_KEYS]  # noqa: RUF012
    _logger_actor_cls = _ChildLoggingActor

    def __init__(self, *, project: str, group: str, mode: str, entity: str | None, dir: Path) -> None:
        super().__init__(
            project=project,
            group=group,
            mode=mode,
            entity=entity,
            dir=str(dir),
            job_type="child",
            # The actor is a fresh process per trial; this only silences a deprecation warning.
            reinit="finish_previous",
            settings=_settings(mode),
        )
        self._mode = mode

    def setup(self, *args: Any, **kwargs: Any) -> None:
        # Ray's setup insists on an API key unless $WANDB_MODE says offline; our mode is explicit
        # and project and group are always given, so offline there is nothing to set up.
        if self._mode == "online":
            super().setup(*args, **kwargs)  # type: ignore[no-untyped-call]

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        if failed and trial in self._trial_queues:
            self.log_trial_result(0, trial, {"status": "error", "error": _trial_error(trial)})
        super().log_trial_end(trial, failed=failed)


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
        # Absolute, because Ray's logging actors chdir into the trial folder before `wandb.init`.
        self.config = dataclasses.replace(config, dir=config.dir.resolve())
        self.run, self.mode = _init_run(self.config, job_type="searcher", run_config=searcher_config)
        logger.info("W&B %s: searcher run %s in %s", self.mode, self.run.id, self.config.dir / "wandb")

    def tune_callbacks(self) -> list[Any]:
        return [
            ChildLoggerCallback(
                project=self.config.project,
                group=self.config.group,
                mode=self.mode,
                entity=self.config.entity,
                dir=self.config.dir,
            )
        ]

    def log_searcher(self, step: int, stats: Mapping[str, Any]) -> None:
        self.run.log(_series(stats), step=step)

    def finish(self, *, best_genotype: Path | None, artifacts: Sequence[Path] = ()) -> None:
        """Log the best genotype (and its diagrams) as one ``genotype`` artifact, then close.

        The artifact, not just the summary, because a later ``nas train``/``nas transfer`` can
        fetch it by name (``<group>-best-genotype:latest``) from any machine. ``immutable`` files
        are referenced where they are (in the run folder) instead of copied to W&B's staging
        folder in the home directory, so an offline search writes nothing outside ``config.dir``.
        """
        diagrams = []
        if best_genotype is not None and best_genotype.is_file():
            from nas.space.diagram import draw_genotype
            from nas.space.genotype import Genotype

            try:
                diagrams = [draw_genotype(Genotype.load(best_genotype), best_genotype.with_suffix(".png"))]
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
