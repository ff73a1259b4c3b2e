"""The README and the docs pages as a user reads them: every `nas` command parses, every link resolves.

Each ``nas ...`` line of a bash block in README.md and docs/*.md goes through the real CLI parser
(`nas.cli.main.build_parser`, the one the console script uses), so a renamed or removed flag fails
here naming the file and line. Placeholders such as ``results/<run>`` are plain strings to the parser,
and a ``...`` word (more flags) is left out.
Lines of other programs (ray, pip, python, optuna-dashboard, wandb, git, ...) are not ours to check.
The commands are parsed, not run: running them is the job of tests/cli/test_main_job.py and the
command tests beside it.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from nas.cli.main import build_parser

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
NAS_PROGRAMS = {"nas", ".venv/bin/nas"}


def bash_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, command) for each line of the page's bash blocks, continuations joined."""
    commands: list[tuple[int, str]] = []
    in_bash = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        fence = FENCE.match(line.strip())
        if fence:
            in_bash = not in_bash and fence.group(1) in ("bash", "sh", "shell")
            continue
        if not in_bash:
            continue
        start, text = pending if pending else (number, "")
        text += line.rstrip()
        if text.endswith("\\"):
            pending = (start, text[:-1] + " ")
            continue
        pending = None
        commands.append((start, text))
    return commands


def nas_argv(command: str) -> list[str] | None:
    """The arguments after the program when the line runs `nas`, else None (another program)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    if not words or words[0] not in NAS_PROGRAMS:
        return None
    return [word for word in words[1:] if word != "..."]  # "..." stands for more flags


def nas_commands() -> list[tuple[str, int, list[str]]]:
    found = []
    for page in PAGES:
        for number, command in bash_lines(page):
            argv = nas_argv(command)
            if argv is not None:
                found.append((page.relative_to(REPO_ROOT).as_posix(), number, argv))
    return found


COMMANDS = nas_commands()


def test_the_pages_have_nas_commands() -> None:
    assert any(where == "README.md" for where, _, _ in COMMANDS)
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize(("where", "number", "argv"), COMMANDS, ids=[f"{w}:{n}" for w, n, _ in COMMANDS])
def test_nas_command_parses(where: str, number: int, argv: list[str]) -> None:
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}:{number}: `nas {shlex.join(argv)}` does not parse: {stderr.getvalue().strip()}")


def relative_links() -> list[tuple[Path, int, str]]:
    links = []
    for page in PAGES:
        in_code = False
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if FENCE.match(line.strip()):
                in_code = not in_code
                continue
            if in_code:
                continue
            for target in LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:|#", target):
                    continue  # a URL (http:, mailto:) or an anchor on the same page
                links.append((page, number, target))
    return links


def test_relative_links_point_at_files() -> None:
    links = relative_links()
    assert links
    broken = [
        f"{page.relative_to(REPO_ROOT)}:{number}: {target}"
        for page, number, target in links
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken, "links to missing files:\n" + "\n".join(broken)
