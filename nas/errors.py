"""The project's own exception types.

Library code raises these with a message written for the user; the CLI turns them into one
line on stderr and exit code 2 (`nas.cli.main.main`). Anything else escaping is a bug.
"""

from __future__ import annotations

import errno
import re


class NasError(Exception):
    """Base class of every error meant for the user."""


class GenotypeError(NasError, ValueError):
    """A genotype (JSON or in memory) is malformed or refers to things that do not exist."""


class ConfigError(NasError, ValueError):
    """A configuration value is out of range or sizes are unrealizable (e.g. N @ F)."""


class DataError(NasError):
    """Data is missing or corrupt."""


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""A full disk, a full quota, a file over the size limit (``ulimit -f``): no room to write."""


def no_space(exc: BaseException) -> OSError | None:
    """The `OSError` of no room to write in ``exc`` or in what caused it (Ray and Tune wrap), if any."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError) and cause.errno in NO_SPACE:
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def first_line(exc: BaseException, *, limit: int = 300) -> str:
    """The first line of ``exc``'s message, its terminal colours removed, shortened, or its type's
    name when it has none.

    Every message built from a foreign exception (Ray, the OS, a crashed child, torch's refusal of
    a checkpoint) goes through here, so what the user reads is always one line of bounded length.
    """
    lines = _ANSI.sub("", str(exc)).strip().splitlines()
    return lines[0].strip()[:limit] if lines else type(exc).__name__


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe(exc: BaseException, *, limit: int = 300) -> str:
    """``Type: first line`` of ``exc``: a child's failure reason in the leaderboard."""
    return f"{type(exc).__name__}: {first_line(exc, limit=limit)}"[:limit]


def shown(value: object, limit: int = 80) -> str:
    """``value`` as it may appear in a message: its ``repr`` (so control characters, ANSI escapes and
    lone surrogates are escaped, never interpreted), cut to ``limit`` characters."""
    try:
        text = repr(value)
    except Exception:  # a repr that raises (or recurses) is still a value the user gave
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def one_line(message: str, limit: int = 1000, *, word: int = 160) -> str:
    """``message`` as one printable line: line breaks and control characters escaped, any run of more
    than ``word`` characters without a space (a 5,000-digit argument echoed by argparse or by a
    message that forgot `shown`) cut to ``word``, the whole cut to ``limit``."""
    safe = "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else ascii(c)[1:-1] for c in message
    )
    safe = re.sub(rf"\S{{{word + 1},}}", lambda m: f"{m.group()[: word - 3]}...", safe)
    return safe if len(safe) <= limit else f"{safe[: limit - 3]}..."


def check_number(
    name: str,
    value: object,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    """Refuse ``value`` unless it is an integer (``integer``) or a finite number within
    ``low``..``high`` (``low`` itself excluded when ``low_open``); the message names ``name``."""
    import math

    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name}: expected {kind}, got {shown(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value}")
    below = low is not None and (value < low or (low_open and value == low))
    if below or (high is not None and value > high):
        lower = "" if low is None else f"{'>' if low_open else '>='} {_bound(low)}"
        upper = "" if high is None else f"<= {_bound(high)}"
        bounds = " and ".join(b for b in (lower, upper) if b)
        raise ConfigError(f"{name} must be {bounds}, got {shown(value)}")


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
