"""The one check every bad-input test makes of the CLI's answer."""

from __future__ import annotations


def assert_one_line_error(code: int, err: str, expected: str) -> str:
    """Exit code 2, exactly one line on stderr, ours, bounded in length, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nas: error: "), lines[0]
    assert len(lines[0]) <= 1100, len(lines[0])  # a 100 KB value is never echoed in full
    assert max(map(len, lines[0].split())) <= 160, lines[0]  # nor cut only at the line's end
    assert expected in lines[0], lines[0]
    return lines[0]


class Payload:
    """What a tampered checkpoint smuggles in: an object ``weights_only=True`` refuses to build."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))
