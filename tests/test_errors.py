"""`nas.errors`: what a message may carry of an input or of a foreign exception (issue 28)."""

from __future__ import annotations

import errno
import os

import pytest

from nas.errors import first_line, no_space, one_line


def test_one_line_cuts_every_long_word_not_only_the_line() -> None:
    line = one_line(f"argument --trials: invalid int value: '{'9' * 5000}' (see --help)")
    assert max(map(len, line.split())) == 160
    assert line.startswith("argument --trials: invalid int value: '999") and line.endswith("(see --help)")


def test_first_line_drops_terminal_colours() -> None:
    exc = RuntimeError("Weights only load failed. \x1b[1mdo those steps only if you trust it\x1b[0m.\nmore")
    assert first_line(exc) == "Weights only load failed. do those steps only if you trust it."


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_no_space_is_found_below_the_wrappers_ray_adds() -> None:
    try:
        try:
            with open("/dev/full", "w") as full:
                full.write("x")
        except OSError as exc:
            raise RuntimeError("Tune: saving the experiment failed") from exc
    except RuntimeError as wrapped:
        found = no_space(wrapped)
    assert found is not None and found.errno == errno.ENOSPC
    assert no_space(RuntimeError("other")) is None
