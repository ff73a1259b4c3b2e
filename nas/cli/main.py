"""The `nas` command line: one sub-command per module in `nas.cli`.

The CLI owns the terminal: library code logs, commands print. Every `NasError` raised below is
turned into one line on stderr and exit code 2 here, and only here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from nas.errors import NasError, no_space, one_line

COMMANDS = ("show", "train", "search", "submit", "transfer", "export", "report", "score")
"""Sub-command modules in `nas.cli`; each defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args)``, and its docstring is the command's ``--help`` description; one that sets
``OWN_HELP = True`` adds its own ``-h/--help``."""


class _Parser(argparse.ArgumentParser):
    """argparse with the project's exit code 2 and a one-line message for usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"nas: error: {one_line(message)}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every sub-command's parser, or with ``only`` just that one's arguments (the others keep their
    one-line help): some commands' arguments need heavy imports (`nas score` lists the proxies, which
    imports torch), and a command should not pay for its neighbours' (seconds per `nas` started)."""
    parser = _Parser(prog="nas", description="Neural architecture search in the NASNet space.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"nas.cli.{name}")
        command = sub.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=not getattr(module, "OWN_HELP", False),
        )
        if only is None or name == only:
            module.add_arguments(command)
    return parser


def invoked_command(argv: Sequence[str]) -> str:
    """The sub-command ``argv`` names: its first argument that is not an option (`nas -v search ...`);
    none, or one that is no command, leaves nothing to build (argparse then says what is wrong)."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=invoked_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors and --help: a code to return, also when called in-process
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.run(args))
    except NasError as exc:
        print(f"nas: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a path of the user's that cannot be read or written, or no room left on
        # its disk (also when Ray or Tune wrapped that error): data, not a bug
        error = no_space(exc) or (exc if isinstance(exc, OSError) and exc.filename is not None else None)
        if error is None:
            raise
        print(f"nas: error: {one_line(file_error(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130


def file_error(exc: OSError) -> str:
    """`path_error`, and for a full disk what to do: every writer of a run folder leaves it whole
    (atomic replaces, appends whose torn last line is healed), so the run continues after."""
    if no_space(exc) is None:
        return path_error(exc)
    where = (
        f"{path_error(exc)}: free space there" if exc.filename is not None else f"{exc.strerror}: free space"
    )
    return f"{where}, then run the command again (with --resume to continue a run)"


def path_error(exc: OSError) -> str:
    """``PATH: reason`` of a file-system error (both paths of a rename or link)."""
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{paths}: {exc.strerror or type(exc).__name__}"


if __name__ == "__main__":
    sys.exit(main())
