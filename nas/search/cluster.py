"""The Ray connection every Ray-using command shares: a local Ray sized to this machine, or a cluster."""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlparse

from nas.errors import NasError, first_line

_CONNECT_TIMEOUT_S = 10.0


def connect(address: str | None, *, num_cpus: int | None = None, log_to_driver: bool = False) -> None:
    """Start a local Ray sized to this machine (or to ``num_cpus`` logical CPUs), or join the cluster
    at ``address`` (bounded in time). ``log_to_driver`` forwards the workers' output to this terminal.

    Inside a Ray job (``nas submit``, ``ray job submit -- nas search``) ``$RAY_ADDRESS`` names the
    cluster the job runs on, and no address means that one. ``ray.init`` to a host with nothing
    listening retries for about a minute, so a plain TCP connect (``_CONNECT_TIMEOUT_S``) checks
    first that something answers there.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the new output engine prints despite verbose=0
    import ray

    if ray.is_initialized():
        return
    if address is None and os.environ.get("RAY_ADDRESS"):
        address = "auto"
    if address is None:
        ray.init(
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=log_to_driver,
            configure_logging=False,
        )
        return
    if address != "auto":
        _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=log_to_driver, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise NasError(f"--address {address}: cannot connect to a Ray cluster ({first_line(exc)})") from None


def _check_reachable(address: str) -> None:
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.hostname is None or parsed.port is None:
        raise NasError(f"--address {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise NasError(
            f"--address {address}: no Ray cluster reachable there ({exc.strerror or exc})"
        ) from None


def gpus_per_task(requested: float | None) -> float:
    """GPUs for each child or Ray Train worker: as ``requested``, else one when the cluster has any.

    Called after `connect`. One GPU per task is what the papers ran (a child per GPU); sharing
    (``--gpus-per-trial 0.25``) is the user's choice, never the default.
    """
    import ray

    if requested is not None:
        return requested
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0  # type: ignore[no-untyped-call]


def quiet_ray_logs() -> None:
    """Keep Ray's own chatter out of a normal run (``nas -v`` shows it all).

    Ray Tune logs a warning whenever a driver-side step is slow (``The 'callbacks.on_trial_result'
    operation took 1.851 s``), its experiment bookkeeping at info level, and Ray core its worker
    and actor life cycle. None of it is about the search's outcome, which the live view and the
    leaderboard report; Ray's errors still show.
    """
    import ray  # noqa: F401  # importing Ray configures its "ray" logger: quiet it after, not before

    logging.getLogger("ray").setLevel(logging.ERROR)
