"""Builds the tracker a run asked for; W&B is imported only when tracking is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.tracking.base import NullTracker, Tracker, TrackingConfig


def create_tracker(config: TrackingConfig, *, searcher_config: Mapping[str, Any]) -> Tracker:
    """A tracker for ``config``; ``searcher_config`` goes into the searcher run's W&B config."""
    if config.resolved_mode() == "disabled":
        return NullTracker()
    from nas.tracking.wandb_runs import WandbTracker

    return WandbTracker(config, searcher_config=searcher_config)


def log_transfer(config: TrackingConfig, record: Mapping[str, Any]) -> None:
    """Log a finished transfer (``nas.transfer.ray_train.run_transfer``'s record) as one W&B run, unless disabled.

    One run of ``job_type="transfer"`` in ``config.group``: per-epoch top-1/top-5, loss and speed,
    the network's size and the recipe as its config, the final figures as its summary.
    """
    if config.resolved_mode() == "disabled":
        return
    from nas.tracking.wandb_runs import log_transfer_run

    log_transfer_run(config, record)
