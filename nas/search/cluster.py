"""The Ray connection every Ray-using command shares: a local Ray sized to this machine, or a cluster."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from urllib.parse import urlparse

from nas.errors import NasError, describe, first_line, one_line, shown

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
"""Set by Ray's job supervisor in a job's driver, beside the ``RAY_ADDRESS`` of the job's cluster."""


def connect(address: str | None, *, num_cpus: int | None = None, log_to_driver: bool = False) -> None:
    """Start a local Ray sized to this machine (or to ``num_cpus`` logical CPUs), or join the cluster
    at ``address`` (bounded in time). ``log_to_driver`` forwards the workers' output to this terminal.

    No address is always a Ray instance of this process's own (``ray.init(address="local")``): a plain
    ``ray.init()`` joins whatever ``/tmp/ray/ray_current_cluster`` or ``$RAY_ADDRESS`` names, so a head
    that a user keeps running (``ray start --head``), or the stale file a killed one leaves behind,
    would take the search over or crash it. The one exception is a Ray job (``ray job submit -- nas
    search``): there Ray sets ``$RAY_ADDRESS`` to the cluster the job runs on, and that is the one
    meant. Elsewhere ``$RAY_ADDRESS`` is ignored with a warning (``--address auto`` uses it). An
    address is checked first: a plain TCP connect (``ray.init`` to a host with nothing listening
    retries for about a minute), then, for a GCS address, Ray's token authentication (`_check_token`).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the new output engine prints despite verbose=0
    import ray
    from ray.exceptions import AuthenticationError

    if ray.is_initialized():
        return
    if address is None and os.environ.get("RAY_ADDRESS"):
        if _JOB_ENV in os.environ:
            address = "auto"
        else:
            logger.warning(
                "RAY_ADDRESS=%s is not used: without --address, nas starts a local Ray of its own "
                "(--address auto joins that cluster)",
                shown(os.environ["RAY_ADDRESS"]),
            )
    if address is None:
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=log_to_driver,
            configure_logging=False,
        )
        _ray_log_handler()
        return
    if address != "auto":
        _check_reachable(address)
        if "://" not in address:  # ray://HOST:PORT is Ray Client's server, not the GCS
            _check_token(address)
    try:
        ray.init(address=address, log_to_driver=log_to_driver, configure_logging=False)
    except AuthenticationError:
        raise NasError(token_error(f"--address {address}")) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise NasError(f"--address {address}: cannot connect to a Ray cluster ({first_line(exc)})") from None
    _ray_log_handler()


def _ray_log_handler() -> None:
    """Print Ray's warnings and errors, a traceback as one line unless ``nas -v`` (`_OneLine`).

    ``ray.init(configure_logging=False)`` removes the "ray" logger's handler (it does not
    propagate), so Python's last resort printed them, each with its whole traceback: a full disk
    made Tune print 20 lines each time it saved its experiment state.
    """
    ray_logger = logging.getLogger("ray")
    if ray_logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # what the last resort printed
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        handler.addFilter(_OneLine())
    ray_logger.addHandler(handler)


def token_error(where: str) -> str:
    """The one line for a cluster that refused us for want of Ray's token (Ray >= 2.52, see
    https://docs.ray.io/en/latest/ray-security/token-auth.html): what to set, where the token is."""
    return (
        f"{where}: the cluster requires Ray's token authentication and this process has no valid token: "
        "set RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN (or in a file named by "
        "RAY_AUTH_TOKEN_PATH, default ~/.ray/auth_token; `ray get-auth-token` on the head prints it)"
    )


def _check_token(address: str) -> None:
    """Refuse, in one line, a GCS at ``address`` that wants a token this process does not have.

    ``ray.init`` would retry for 20 s, one log line a second, then say only "Failed to connect".
    A GCS client asks for the cluster's id once (milliseconds) and Ray raises `AuthenticationError`
    when the token is missing or wrong; its C++ layer also logs a line to stderr, silenced here.
    Ray sends a token to an explicit address only under ``RAY_AUTH_MODE=token``, and then aborts
    the process if it has none, so that case is checked before the client is made.
    """
    from ray._raylet import AuthenticationTokenLoader, GcsClient  # type: ignore[attr-defined]
    from ray.exceptions import AuthenticationError

    token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if token_mode and not os.environ.get("RAY_AUTH_TOKEN") and path and not os.path.isfile(path):
        raise NasError(f"RAY_AUTH_TOKEN_PATH={shown(path)}: no such file")
    if token_mode and not AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
        raise NasError(token_error(f"--address {address}"))
    try:
        with _stderr_silenced():
            GcsClient(address=address)
    except AuthenticationError:
        raise NasError(token_error(f"--address {address}")) from None
    except Exception:  # anything else: ray.init says it below, in its own words
        return


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block: Ray's C++ code writes there, not to ``sys.stderr``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_reachable(address: str) -> None:
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:  # a port that is no number, or out of range
        host, port = None, None
    if host is None or port is None:
        raise NasError(f"--address {shown(address)}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise NasError(
            f"--address {shown(address)}: no Ray cluster reachable there ({exc.strerror or exc})"
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
    leaderboard report; Ray's errors still show (`_ray_log_handler`).
    """
    import ray  # noqa: F401  # importing Ray configures its "ray" logger: quiet it after, not before

    logging.getLogger("ray").setLevel(logging.ERROR)


class _OneLine(logging.Filter):
    """A record's traceback reduced to its exception's ``Type: first line``, on the message's line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = one_line(f"{record.getMessage()} {describe(record.exc_info[1])}")
            record.args, record.exc_info, record.exc_text = None, None, None
        return True
