"""Send a search to a Ray cluster as a Ray job, and follow it: the library side of `nas submit`.

A Ray job runs its entrypoint on the cluster's head node (``JobSubmissionClient``, the job server
lives in the Ray dashboard, port 8265 by default). The entrypoint is the same ``nas search`` a user
runs locally, with ``--address auto`` so that it joins the cluster it runs on; the flags are forwarded
unchanged except relative paths, which are made absolute against the submitter's directory because
the job runs in a copy of the working directory (``runtime_env={"working_dir": ...}``) that Ray
deletes later. On a real cluster those paths must exist on the head node (shared storage).

The working directory shipped with the job is this checkout when ``nas`` runs from one (so the
cluster runs exactly the code that was submitted); the nodes need the dependencies installed.
Ray is imported here only, and only when a job is submitted or followed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import NasError, first_line

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

logger = logging.getLogger(__name__)

DEFAULT_JOB_ADDRESS = "http://127.0.0.1:8265"
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")
WORKING_DIR_EXCLUDES = [
    "results",
    "wandb",
    "**/__pycache__",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
]
"""What never travels with a job: caches and past runs (Ray itself leaves out ``.git`` and ``.venv``)."""

_POLL_S = 1.0
NO_AGENT = "No available agent to submit job"
AGENT_WAIT_S = 30.0
"""How long `submit` waits for a just-started head's job agent."""
AGENT_HINT = (
    "; the head's dashboard agent is not serving: if another Ray runs on that machine, start the head"
    " with its own --dashboard-agent-listen-port (the default, 52365, is taken by the first)"
)


@dataclass(frozen=True)
class JobStatus:
    """A job's state as the job server reports it (``status`` is one of Ray's ``JobStatus`` names)."""

    job_id: str
    status: str
    message: str | None
    entrypoint: str | None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "message": self.message,
            "entrypoint": self.entrypoint,
        }


def job_address(address: str | None) -> str:
    """``--address``, else ``$RAY_ADDRESS`` when it is the job server's URL, else the local default."""
    if address:
        return address
    env = os.environ.get("RAY_ADDRESS", "")
    return env if env.startswith(("http://", "https://")) else DEFAULT_JOB_ADDRESS


def project_root() -> Path | None:
    """The checkout ``nas`` is imported from (it has a ``pyproject.toml``), or None when installed."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def search_entrypoint(search_args: Sequence[str], *, python: str = "python") -> str:
    """The job's shell command: ``nas search`` on the cluster it runs on. A job's output is no
    terminal, so its log gets one line per finished child (``nas submit --logs --follow``)."""
    argv = [python, "-m", "nas.cli.main", "search", *search_args, "--address", "auto"]
    return shlex.join(argv)


def connect(address: str | None) -> JobSubmissionClient:
    """A client of the job server at ``address``; an unreachable server is a one-line `NasError`."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    from nas.search.cluster import token_error

    if not logger.isEnabledFor(logging.INFO):  # Ray logs each file it packs at INFO
        logging.getLogger("ray").setLevel(logging.WARNING)

    url = job_address(address)
    try:
        return JobSubmissionClient(url)
    except AuthenticationError:  # the job server answers 401/403 to the first request, made here
        raise NasError(token_error(f"--address {url}")) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise NasError(f"--address {url}: no Ray job server there ({first_line(exc)})") from None


def submit(
    client: JobSubmissionClient,
    entrypoint: str,
    *,
    working_dir: Path | None,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Submit ``entrypoint`` (shipping ``working_dir`` if given) and return the job's id."""
    runtime_env: dict[str, Any] = {"env_vars": {"RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}}
    if working_dir is not None:
        runtime_env |= {"working_dir": str(working_dir), "excludes": WORKING_DIR_EXCLUDES}
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            job_id: str = client.submit_job(
                entrypoint=entrypoint, runtime_env=runtime_env, metadata=dict(metadata or {})
            )
            break
        except (ConnectionError, RuntimeError, ValueError) as exc:
            # A head answers before its job agent is up (seconds after `ray start --head`, longer
            # on a loaded machine); the server itself says to try again.
            if NO_AGENT in str(exc) and time.monotonic() < deadline:
                logger.info("the head's job agent is not up yet; retrying")
                time.sleep(1.0)
                continue
            hint = AGENT_HINT if NO_AGENT in str(exc) else ""
            raise NasError(
                f"job submission to {client.get_address()} failed: {first_line(exc)}{hint}"
            ) from None
    logger.info("submitted job %s: %s", job_id, entrypoint)
    return job_id


def status(client: JobSubmissionClient, job_id: str) -> JobStatus:
    try:
        info = client.get_job_info(job_id)
    except RuntimeError as exc:
        raise NasError(f"job {job_id}: {first_line(exc)}") from None
    return JobStatus(job_id, str(info.status.value), info.message, info.entrypoint)


def logs(client: JobSubmissionClient, job_id: str) -> str:
    status(client, job_id)  # an unknown id is a one-line error, not an HTTP traceback
    text: str = client.get_job_logs(job_id)
    return text


def stop(client: JobSubmissionClient, job_id: str) -> bool:
    """Ask the cluster to stop the job; False when it had already ended."""
    status(client, job_id)
    return bool(client.stop_job(job_id))


def follow(
    client: JobSubmissionClient,
    job_id: str,
    write: Callable[[str], Any] = sys.stderr.write,
    *,
    timeout_s: float | None = None,
) -> JobStatus:
    """Stream the job's logs through ``write`` until it ends; return its final status.

    Ray's log tail ends when the job does; the status is then polled until it is terminal (the two
    are not updated at the same instant). ``timeout_s`` bounds the whole wait.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    status(client, job_id)
    try:
        asyncio.run(asyncio.wait_for(tail(), timeout=timeout_s))
    except TimeoutError:
        raise NasError(f"job {job_id} still running after {timeout_s:.0f} s") from None
    except Exception as exc:  # the tail is best effort (e.g. a proxy without websockets): poll instead
        logger.warning("could not tail the logs of job %s (%s); polling its status", job_id, exc)
    while not (current := status(client, job_id)).done:
        if deadline is not None and time.monotonic() > deadline:
            raise NasError(f"job {job_id} still {current.status} after {timeout_s:.0f} s")
        time.sleep(_POLL_S)
    return current
