"""The project's own exception types.

Library code raises these with a message written for the user; the CLI turns them into one
line on stderr and exit code 2 (`nas.cli.main.main`). Anything else escaping is a bug.
"""

from __future__ import annotations


class NasError(Exception):
    """Base class of every error meant for the user."""


class GenotypeError(NasError, ValueError):
    """A genotype (JSON or in memory) is malformed or refers to things that do not exist."""


class ConfigError(NasError, ValueError):
    """A configuration value is out of range or sizes are unrealizable (e.g. N @ F)."""


class DataError(NasError):
    """Data is missing or corrupt."""


def first_line(exc: BaseException, *, limit: int = 300) -> str:
    """The first line of ``exc``'s message, shortened, or its type's name when it has none.

    Every message built from a foreign exception (Ray, the OS, a crashed child) goes through here,
    so what the user reads is always one line of bounded length.
    """
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def describe(exc: BaseException, *, limit: int = 300) -> str:
    """``Type: first line`` of ``exc``: a child's failure reason in the leaderboard."""
    return f"{type(exc).__name__}: {first_line(exc, limit=limit)}"[:limit]
