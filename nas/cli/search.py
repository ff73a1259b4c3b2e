"""`nas search`: the main job -- a searcher proposes cells, Ray Tune trains them as children.

Settings come from the defaults of `nas.search.settings.SearchSettings`, then ``--preset`` (cpu, gpu
or nasnet: `nas.search.presets`; ``nas search --preset NAME --help`` shows its values), then a
``--config`` TOML file (keys are the flag names with underscores), then the flags given on the command
line. A run lives in ``<results-dir>/<name>/``; ``--resume RUN_DIR`` (or the same command again, same
``--name``) continues it with the settings it was started with, except the runtime ones and
``--trials`` (a larger budget extends a finished search). A setting given that differs from the run's
own is a one-line error, never silently ignored (`nas.search.resolve`).

Ctrl-C stops the running children (they stay outstanding and rerun on ``--resume``), keeps the run
folder consistent, and exits 130 with the command that resumes; a second Ctrl-C quits at once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from nas.errors import ConfigError
from nas.search.settings import GROUPS, SearchSettings, flag_name

OWN_HELP = True  # `add_search_arguments`'s: --preset NAME --help shows the preset's values
HELP = "search for a cell (Ray Tune schedules the children)"


def add_search_arguments(
    parser: argparse.ArgumentParser,
    *,
    skip: frozenset[str] = frozenset(),
    settings_class: type[SearchSettings] = SearchSettings,
    title: str = "",
) -> None:
    """One flag per field of ``settings_class``, its type, help and ``--help`` section read from the
    field (`nas.search.settings.setting`): a default changed there changes the help, nothing else to
    edit. Every flag's default is None, so that a preset and a TOML config can fill what is not given.
    ``--preset NAME --help`` shows that preset's values as the defaults: ``parser`` has no ``--help`` of
    its own (``add_help=False``)."""
    hints = get_type_hints(settings_class)
    groups = {key: parser.add_argument_group(title + heading) for key, heading in GROUPS.items()}
    for f in dataclasses.fields(settings_class):
        if f.name in skip:
            continue
        group, kind = groups[f.metadata["group"]], _flag_type(hints[f.name])
        help_text = field_help(f)
        if kind is bool:
            group.add_argument(
                flag_name(f.name), dest=f.name, action="store_true", default=None, help=help_text
            )
            if f.default is True:  # a setting on by default is turned off by --no-NAME
                off = "--no-" + flag_name(f.name).removeprefix("--")
                group.add_argument(off, dest=f.name, action="store_false", default=None, help="turn it off")
        elif kind is dict:
            group.add_argument(
                flag_name(f.name), dest=f.name, action="append", metavar="KEY=VALUE", help=help_text
            )
        else:
            group.add_argument(flag_name(f.name), dest=f.name, type=kind, default=None, help=help_text)
    parser.add_argument("--config", type=Path, help="TOML file of settings (flags given override it)")
    parser.add_argument(
        "-h", "--help", action=_PresetHelp, nargs=0, help="show this help (after --preset NAME: its values)"
    )
    parser.set_defaults(settings_class=settings_class)


def _flag_type(hint: Any) -> type:
    """The argparse type of a field: its annotation less ``| None``."""
    if getattr(hint, "__origin__", hint) is dict:
        return dict
    kinds = [k for k in (bool, int, float, str) if k == hint or k in getattr(hint, "__args__", ())]
    assert kinds, hint
    return kinds[0]


def field_help(f: dataclasses.Field[Any], preset: Mapping[str, Any] | None = None) -> str:
    """A field's help and its default: the preset's value where it sets one, else the field's."""
    if preset and f.name in preset:
        value, source = preset[f.name], "preset"
    elif f.default_factory is not dataclasses.MISSING:
        value, source = f.default_factory(), "default"
    else:
        value, source = f.default, "default"
    text = str(f.metadata["help"])
    if isinstance(value, bool):
        return text + (f" ({source}: on)" if value else "")
    if isinstance(value, dict):
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items())
        return text + (f" ({source}: {shown})" if shown else "")
    if value is None:
        return text + (f" (default: {f.metadata['none']})" if f.metadata["none"] else "")
    return text + f" ({source} {value:g})" if isinstance(value, float) else text + f" ({source} {value})"


class _PresetHelp(argparse.Action):
    """``--help``, showing the values of the ``--preset`` given before it as the defaults."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, *_: Any) -> None:
        from nas.search.presets import get_preset

        try:
            preset = get_preset(getattr(namespace, "preset", None) or "cpu")
        except ConfigError as exc:
            parser.error(str(exc))
        fields = {f.name: f for f in dataclasses.fields(namespace.settings_class)}
        for action in parser._actions:
            if action.dest in fields and flag_name(action.dest) in action.option_strings:  # not --no-X
                action.help = field_help(fields[action.dest], {**preset.values, "preset": preset.name})
        about = textwrap.fill(f"preset {preset.name}: {preset.description}", width=100)
        parser.description = f"{parser.description or ''}\n{about}"
        parser.print_help()
        parser.exit()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_search_arguments(parser)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="RUN_DIR",
        help="continue a run (default: --name's)",
    )
    parser.add_argument("--quiet", action="store_true", help="no live view, one final line")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(run=run)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings this command line gives (flags over ``--config``), as `SearchSettings` keys."""
    from nas.search import resolve

    flags = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(SearchSettings)}
    flags.pop("searcher_options")
    return resolve.given_settings(flags, config=args.config, options=args.searcher_options or ())


def run(args: argparse.Namespace) -> int:
    from nas.cli.common import check_output_dir, ray_output_to
    from nas.search.cluster import quiet_ray_logs
    from nas.search.resolve import resolve_settings, training_images
    from nas.search.runner import check_data

    settings, resumed = resolve_settings(given_settings(args), resume=args.resume)
    if not resumed:
        check_output_dir(settings.results_dir, "--results-dir")
    settings.check_benchmark()
    data_dir: Path | None = None
    if settings.benchmark is None or settings.benchmark_train:  # tabular children read no images
        data_dir = check_data(settings)
        settings.check_data_size(training_images(data_dir))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if not args.verbose:
        quiet_ray_logs()
    assert settings.name is not None
    run_path = Path(settings.results_dir) / settings.name
    quiet_ray = (
        ray_output_to(run_path / "driver.log", kept_if=run_path / "config.json")
        if args.json
        else contextlib.nullcontext()
    )
    with quiet_ray:
        return _search(args, settings, resumed, data_dir)


def _search(args: argparse.Namespace, settings: Any, resumed: bool, data_dir: Path | None) -> int:
    """Connect, check resources, run the stage(s) with the live view and Ctrl-C handling; print the
    summary. Under ``--json`` it runs with Ray's own output sent to the run's ``driver.log``."""
    import signal
    import threading

    from rich.console import Console

    from nas.results.run_folder import RunFolder
    from nas.search.cluster import connect
    from nas.search.progress import SearchProgress, view_mode
    from nas.search.resolve import open_search_run
    from nas.search.runner import SearchOutcome, check_resources, run_search, summarize
    from nas.search.selection import select_line

    connect(settings.address)
    check_resources(settings)
    run_folder = open_search_run(settings)
    if data_dir is not None:
        settings = dataclasses.replace(settings, data_dir=str(data_dir))  # what the workers read
    console = Console(stderr=True)
    stage, verifier = None, None
    if settings.weight_sharing:  # the supernet stage, then its best candidates as the children
        from nas.search import weight_sharing

        def show(row: Mapping[str, Any]) -> None:
            if not (args.quiet or args.json):
                console.print(weight_sharing.describe_epoch(row, settings.epochs))

        stage = weight_sharing.run_stage(settings, run_folder, on_epoch=show)
        settings, verifier = weight_sharing.verification(settings, run_folder)

    # Ctrl-C: the first asks Tune to stop the running children (they stay outstanding and rerun on
    # --resume) and returns here; a second raises KeyboardInterrupt at once. Tune's own handler,
    # which would print `Tuner.restore(...)` and let the command exit 0, is switched off.
    interrupted = threading.Event()
    views: list[SearchProgress] = []

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        for view in views[-1:]:
            view.stop_requested()

    def run_stage(stage_settings: SearchSettings, folder: RunFolder, searcher: Any) -> SearchOutcome:
        """One stage (the search, or the selection: `nas.search.selection`) with its live view."""
        progress = SearchProgress(
            budget=stage_settings.trials,
            rows=folder.trials(),
            run_dir=str(folder.path),
            console=console,
            mode=view_mode(console, quiet=args.quiet or args.json),
            score_by=stage_settings.score_by,
            stage=folder.stage,
        )
        views.append(progress)
        started = time.perf_counter()
        try:
            # Ray's driver threads print worker deaths and the like on stdout; stdout is for our summary.
            with progress, contextlib.redirect_stdout(sys.stderr):
                return run_search(
                    stage_settings,
                    folder,
                    listeners=[progress.child_done],
                    callbacks=[progress.tune_callback()],
                    searcher=searcher,
                    should_stop=interrupted.is_set,
                )
        except KeyboardInterrupt:
            interrupted.set()
            return summarize(
                folder, stage_settings.trials, time.perf_counter() - started, 0, score_by=settings.score_by
            )

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.signal(signal.SIGINT, on_sigint)
    select: dict[str, Any] | None = None
    try:
        outcome = run_stage(settings, run_folder, verifier)
        finished = not interrupted.is_set() and (outcome.trials_done >= outcome.budget or outcome.note)
        if settings.select_top and finished:
            from nas.search.selection import selection, summary_of

            select_settings, lister, select_folder = selection(settings, run_folder)
            selected = run_stage(select_settings, select_folder, lister)
            select = summary_of(run_folder, selected, interrupted=interrupted.is_set())
    finally:
        signal.signal(signal.SIGINT, previous)
    stopped = interrupted.is_set() and (
        outcome.trials_done < outcome.budget
        or bool(settings.select_top and (select is None or select["interrupted"]))
    )
    summary = {**outcome.to_dict(), "resumed": resumed, "searcher": settings.searcher, "interrupted": stopped}
    summary |= stage.to_dict() if stage is not None else {}
    summary |= {"select": select} if settings.select_top else {}
    if args.json:
        print(json.dumps(summary))
    else:
        best = "best val_accuracy " + (
            "none" if outcome.best_val_accuracy is None else f"{outcome.best_val_accuracy:.4f}"
        )
        if outcome.score_by == "zero_cost" and outcome.best_measured is not None:  # nothing trained
            best = f"best zero_cost {outcome.best_measured:.4f} (children not trained)"
        elif outcome.score_by != "val_accuracy" and outcome.best_measured is not None:
            best += f" (best by {outcome.score_by}: {outcome.best_measured:.4f})"
        print(
            f"search {'interrupted' if stopped and outcome.trials_done < outcome.budget else 'done'}: "
            f"{outcome.trials_done}/{outcome.budget} children "
            f"({outcome.trials_completed} completed, {outcome.trials_stopped} stopped early, "
            f"{outcome.trials_failed} failed, {outcome.trials_rejected} rejected"
            f"{f'; {outcome.trials_duplicate} duplicates told, not trained' if outcome.trials_duplicate else ''}"
            f"), {best}, "
            f"{outcome.wall_s:.0f} s, run folder {outcome.run_dir}",
            file=sys.stdout,
        )
    if select is not None and not args.json:
        print(select_line(select), file=sys.stdout)
    if outcome.note is not None and not args.json:
        print(f"nas: note: {outcome.note}", file=sys.stderr)
    if stopped:
        sys.stdout.flush()
        print(f"nas: interrupted; resume with: nas search --resume {run_folder.path}", file=sys.stderr)
        return 130
    return 0
