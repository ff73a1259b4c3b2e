"""`nas search`: the main job -- a searcher proposes cells, Ray Tune trains them as children.

Settings come from the defaults of `nas.search.settings.SearchSettings`, then a ``--config`` TOML file (keys are
the flag names with underscores), then the flags given on the command line. A run lives in
``<results-dir>/<name>/``; ``--resume RUN_DIR`` (or the same command again, same ``--name``) continues
it with the settings it was started with, except the runtime ones in `RUNTIME_KEYS` and ``--trials``
(a larger budget extends a finished search). A setting given that differs from the run's own is a
one-line error, never silently ignored.

Ctrl-C stops the running children (they stay outstanding and rerun on ``--resume``), keeps the run
folder consistent, and exits 130 with the command that resumes; a second Ctrl-C quits at once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib

from nas.errors import ConfigError

OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("--space", str, "search space (default nasnet)"),
    ("--searcher", str, "rl, tpe, random or evolution (default rl)"),
    (
        "--trials",
        int,
        "children to train in all, counting those a resumed run has done; with --resume, a larger "
        "budget extends a finished search (default 16)",
    ),
    ("--epochs", int, "epochs per child (default 1)"),
    ("--N", int, "normal cells per stage of a child (default 1)"),
    ("--C", int, "channels per block in a child's first stage (default 8)"),
    ("--blocks", int, "blocks per cell, the space's B (default 5)"),
    ("--batch-size", int, "child batch size (default 32)"),
    ("--lr", float, "child learning rate (default 0.1)"),
    (
        "--data-dir",
        str,
        "CIFAR-10 folder (default $NAS_DATA_DIR, else ~/.cache/nas/cifar10, downloaded there)",
    ),
    ("--train-size", int, "training images per child (default 2048)"),
    ("--val-size", int, "validation images held out of the training batches (default 512)"),
    ("--seed", int, "searcher seed, also the children's (default 0)"),
    ("--address", str, "join a Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: local Ray)"),
    (
        "--gpus-per-trial",
        float,
        "GPUs per child; fractions pack children on a GPU (default 1 if any, else 0)",
    ),
    ("--cpus-per-trial", float, "CPUs per child (default 1)"),
    ("--max-concurrent", int, "children at once (default: as many as the cluster's resources allow)"),
    ("--max-failures", int, "retries of a child whose worker died (default 1)"),
    (
        "--max-wait",
        float,
        "seconds children may wait for resources with none running before the search stops (default 600)",
    ),
    ("--scheduler", str, "fifo or asha (early stopping, default fifo)"),
    ("--max-params", int, "reject children with more parameters"),
    ("--max-mult-adds", int, "reject children with more mult-adds"),
    (
        "--name",
        str,
        "run name (default <searcher>-s<seed>-<time>); an existing run of that name resumes if the "
        "settings given match its own, else it is an error",
    ),
    ("--results-dir", str, "root of the run folders (default results/)"),
    ("--wandb", str, "W&B mode: auto, online, offline or disabled (default auto)"),
    ("--wandb-project", str, "W&B project (default nas)"),
    ("--wandb-entity", str, "W&B entity"),
    # --weight-sharing (ENAS; nas/search/weight_sharing.py)
    (
        "--verify-top",
        int,
        "with --weight-sharing: best candidates trained as stand-alone children (default 5)",
    ),
    ("--verify-epochs", int, "with --weight-sharing: epochs per verified child (default 1)"),
    (
        "--ws-candidates",
        int,
        "with --weight-sharing: architectures scored on the validation split (default 1000)",
    ),
    ("--ws-controller-steps", int, "with --weight-sharing: searcher updates per supernet epoch (default 30)"),
    ("--ws-archs-per-step", int, "with --weight-sharing: architectures per searcher update (default 10)"),
    ("--ws-reward-batch", int, "with --weight-sharing: validation images per reward (default 160)"),
)
"""Search settings as flags: name, type, help. `nas submit` forwards the same flags to the cluster."""

RUNTIME_KEYS = frozenset(
    {
        "address",
        "data_dir",
        "download",
        "gpus_per_trial",
        "cpus_per_trial",
        "max_concurrent",
        "max_failures",
        "max_wait",
        "wandb",
    }
)
"""Settings a resumed run takes from this command rather than from its ``config.json``."""


def add_search_arguments(parser: argparse.ArgumentParser, *, skip: frozenset[str] = frozenset()) -> None:
    """The search flags; every default is None so that a TOML config can fill what is not given."""
    for flag, kind, help_text in OPTIONS:
        if flag not in skip:
            parser.add_argument(flag, type=kind, default=None, help=help_text)
    parser.add_argument(
        "--searcher-option",
        action="append",
        metavar="KEY=VALUE",
        help="a searcher option: a field of rl's RLConfig, else a constructor keyword (repeatable; VALUE is "
        "read as JSON, else as a string). "
        "Defaults, sized so the default 16 children teach every searcher: rl batch_size=4 (a controller "
        "update per 4 children), lr=0.01; evolution population_size=6, sample_size=3; tpe "
        "n_startup_trials=4",
    )
    parser.add_argument("--download", action="store_true", default=None, help="download CIFAR-10 first")
    parser.add_argument(
        "--weight-sharing",
        action="store_true",
        default=None,
        help="ENAS: train one supernet for --epochs, score candidates with its shared weights, then train "
        "the --verify-top best as children",
    )
    parser.add_argument("--config", type=Path, help="TOML file of settings (flags given override it)")


HELP = "search for a cell (Ray Tune schedules the children)"


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


def settings_values(args: argparse.Namespace) -> dict[str, Any]:
    """Flags given on the command line over the ``--config`` file, as `SearchSettings` keys."""
    from nas.search.settings import SearchSettings

    known = set(SearchSettings.__dataclass_fields__)
    values: dict[str, Any] = {}
    if args.config is not None:
        try:
            loaded = tomllib.loads(args.config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--config {args.config}: cannot read it ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {args.config}: not a TOML file ({exc})") from None
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise ConfigError(f"--config {args.config}: unknown setting(s) {', '.join(unknown)}")
        values.update(loaded)
    values.update({k: v for k, v in vars(args).items() if k in known and v is not None})
    if args.searcher_option:
        if not isinstance(values.get("searcher_options", {}), dict):
            raise ConfigError(f"--config {args.config}: searcher_options must be a table")
        values["searcher_options"] = {
            **values.get("searcher_options", {}),
            **parse_options(args.searcher_option),
        }
    return values


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["lr=0.01", "ppo=true", "reward_transform=cubed"]`` -> ``{"lr": 0.01, "ppo": True, ...}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--searcher-option: expected KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


MAY_DIFFER_ON_RESUME = RUNTIME_KEYS | {"name", "results_dir", "trials"}
"""Settings a command may give for an existing run without them having to match its ``config.json``."""


def resolve_settings(args: argparse.Namespace) -> tuple[Any, bool]:
    """The run's `SearchSettings` (name filled in) and whether it resumes an existing run.

    An existing run continues with its own settings. Settings given on this command (flags or
    ``--config``) must match them, except the runtime ones and ``--trials``: a mismatch is a
    `ConfigError` that names each setting, never a silent resume with the old values. ``--trials``
    may change only with an explicit ``--resume``, and never below the children already done.
    """
    from nas.cli.common import check_output_dir
    from nas.results.run_folder import RunFolder, check_history, read_run_config
    from nas.search.runner import load_run_settings
    from nas.search.settings import SearchSettings, default_run_name
    from nas.search.weight_sharing import check_flags

    values = settings_values(args)
    check_flags(values)
    target: Path | None = None
    if args.resume:
        target = Path(args.resume)
    elif values.get("name"):
        candidate = Path(values.get("results_dir", SearchSettings.results_dir)) / values["name"]
        if _is_file(candidate / "config.json") or args.resume == "":
            target = candidate
    elif args.resume == "":
        raise ConfigError("--resume needs a run folder, or --name of a run in --results-dir")
    if target is None:
        settings = SearchSettings.from_dict(values)
        settings.validate()
        check_output_dir(settings.results_dir, "--results-dir")
        if settings.name is None:
            settings = dataclasses.replace(settings, name=default_run_name(settings))
        return settings, False
    run_folder = RunFolder(target)
    if run_folder.is_run():
        read_run_config(run_folder)  # unreadable, not JSON, not an object: one line, before Ray
    saved = load_run_settings(target)
    saved_values = saved.to_dict()
    differ = {
        k: (saved_values[k], v)
        for k, v in values.items()
        if k not in MAY_DIFFER_ON_RESUME and k in saved_values and saved_values[k] != v
    }
    explicit = args.resume is not None
    if not explicit and values.get("trials", saved.trials) != saved.trials:
        differ["trials"] = (saved.trials, values["trials"])
    if differ:
        what = "; ".join(f"{k} is {old!r} there, {new!r} here" for k, (old, new) in differ.items())
        hint = (
            "start a new run with another --name"
            if explicit
            else f"pick another --name, or continue it with `nas search --resume {target}"
            + (f" --trials {values['trials']}`" if "trials" in differ else "`")
        )
        raise ConfigError(f"run {target} exists with other settings ({what}): {hint}")
    runtime = {k: v for k, v in values.items() if k in RUNTIME_KEYS}
    overrides = {"name": target.name, "results_dir": str(target.parent), **runtime}
    if explicit and "trials" in values:
        done = len(run_folder.trials())
        if values["trials"] < done:
            raise ConfigError(f"--trials {values['trials']}: run {target} has already done {done} children")
        overrides["trials"] = values["trials"]
    settings = SearchSettings.from_dict({**saved_values, **overrides})
    settings.validate()
    repaired = check_history(run_folder)
    if repaired:
        logging.getLogger(__name__).warning("%s", repaired)
    return settings, True


def _is_file(path: Path) -> bool:
    """`Path.is_file`, false for a path the file system refuses (too long): validation then names it."""
    try:
        return path.is_file()
    except OSError:
        return False


def training_images(folder: Path) -> int:
    """How many images the CIFAR-10 training batches in ``folder`` hold (reading them also checks them)."""
    from nas.train.data import TRAIN_FILES, read_batch

    return sum(len(read_batch(folder / name)[1]) for name in TRAIN_FILES)


def run(args: argparse.Namespace) -> int:
    from nas.cli.common import ray_output_to
    from nas.search.cluster import quiet_ray_logs
    from nas.search.runner import check_data

    settings, resumed = resolve_settings(args)
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


def _search(args: argparse.Namespace, settings: Any, resumed: bool, data_dir: Path) -> int:
    """Connect, check resources, run the stage(s) with the live view and Ctrl-C handling; print the
    summary. Under ``--json`` it runs with Ray's own output sent to the run's ``driver.log``."""
    import signal
    import threading

    from rich.console import Console

    from nas.results.run_folder import read_json, write_json
    from nas.search.cluster import connect
    from nas.search.progress import SearchProgress, view_mode
    from nas.search.runner import check_resources, open_run, run_search, summarize

    connect(settings.address)
    check_resources(settings)
    run_folder = open_run(settings)
    saved = read_json(run_folder.config)
    if saved.get("trials") != settings.trials:  # `--resume --trials N` extends the run's budget
        write_json(run_folder.config, {**saved, "trials": settings.trials})
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
    progress = SearchProgress(
        budget=settings.trials,
        rows=run_folder.trials(),
        run_dir=str(run_folder.path),
        console=console,
        mode=view_mode(console, quiet=args.quiet or args.json),
    )

    # Ctrl-C: the first asks Tune to stop the running children (they stay outstanding and rerun on
    # --resume) and returns here; a second raises KeyboardInterrupt at once. Tune's own handler,
    # which would print `Tuner.restore(...)` and let the command exit 0, is switched off.
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        progress.stop_requested()

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.perf_counter()
    try:
        # Ray's driver threads print worker deaths and the like on stdout; stdout is for our summary.
        with progress, contextlib.redirect_stdout(sys.stderr):
            outcome = run_search(
                settings,
                run_folder,
                listeners=[progress.child_done],
                callbacks=[progress.tune_callback()],
                searcher=verifier,
                should_stop=interrupted.is_set,
            )
    except KeyboardInterrupt:
        interrupted.set()
        outcome = summarize(run_folder, settings.trials, time.perf_counter() - started, 0)
    finally:
        signal.signal(signal.SIGINT, previous)
    stopped = interrupted.is_set() and outcome.trials_done < outcome.budget
    summary = {**outcome.to_dict(), "resumed": resumed, "searcher": settings.searcher, "interrupted": stopped}
    summary |= stage.to_dict() if stage is not None else {}
    if args.json:
        print(json.dumps(summary))
    else:
        best = "none" if outcome.best_val_accuracy is None else f"{outcome.best_val_accuracy:.4f}"
        print(
            f"search {'interrupted' if stopped else 'done'}: {outcome.trials_done}/{outcome.budget} children "
            f"({outcome.trials_completed} completed, {outcome.trials_stopped} stopped early, "
            f"{outcome.trials_failed} failed, {outcome.trials_rejected} rejected), best val_accuracy {best}, "
            f"{outcome.wall_s:.0f} s, run folder {outcome.run_dir}",
            file=sys.stdout,
        )
    if stopped:
        sys.stdout.flush()
        print(f"nas: interrupted; resume with: nas search --resume {run_folder.path}", file=sys.stderr)
        return 130
    return 0
