"""A search's settings from what a command gives, and the resume policy of its run folder.

Settings come from the fields' defaults, then the ``--preset`` (`nas.search.presets`), then a
``--config`` TOML file (keys are the flag names with underscores), then the flags given. A run lives in
``<results-dir>/<name>/``; ``--resume RUN_DIR`` (or the same command again, same ``--name``) continues
it with the settings it was started with (its ``config.json``), except the runtime ones
(`RUNTIME_KEYS`) and ``--trials`` (a larger budget extends a finished search). A setting given that
differs from the run's own is a one-line error, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomllib

from nas.errors import ConfigError
from nas.results.run_folder import RunFolder, check_history, read_json, read_run_config, write_json
from nas.search.presets import apply_preset
from nas.search.settings import SearchSettings, default_run_name

logger = logging.getLogger(__name__)

RUNTIME_KEYS = frozenset(f.name for f in dataclasses.fields(SearchSettings) if f.metadata["runtime"])
"""Settings a resumed run takes from this command rather than from its ``config.json``."""

MAY_DIFFER_ON_RESUME = RUNTIME_KEYS | {"name", "results_dir", "trials"}
"""Settings a command may give for an existing run without them having to match its ``config.json``."""


def given_settings(
    flags: Mapping[str, Any], *, config: Path | None = None, options: Sequence[str] = ()
) -> dict[str, Any]:
    """The settings a command gives: ``flags`` (`SearchSettings` keys, None for not given) over the
    ``config`` TOML file; ``options`` (``KEY=VALUE`` texts) over the file's ``searcher_options``."""
    known = {f.name for f in dataclasses.fields(SearchSettings)}
    values: dict[str, Any] = {}
    if config is not None:
        try:
            loaded = tomllib.loads(config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--config {config}: cannot read it ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {config}: not a TOML file ({exc})") from None
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise ConfigError(f"--config {config}: unknown setting(s) {', '.join(unknown)}")
        values.update(loaded)
    values.update({k: v for k, v in flags.items() if k in known and v is not None})
    if options:
        if not isinstance(values.get("searcher_options", {}), dict):
            raise ConfigError(f"--config {config}: searcher_options must be a table")
        values["searcher_options"] = {**values.get("searcher_options", {}), **parse_options(options)}
    return values


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
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


def resolve_settings(given: Mapping[str, Any], *, resume: str | None) -> tuple[SearchSettings, bool]:
    """The run's `SearchSettings` (name filled in) and whether it resumes an existing run.

    ``given``: `given_settings`. ``resume``: None without ``--resume``, "" for a bare ``--resume``
    (the run of ``--name``), else the run folder. An existing run continues with its own settings.
    Settings given (flags or ``--config``) must match them, except the runtime ones and ``--trials``:
    a mismatch is a `ConfigError` that names each setting. ``--trials`` may change only with an
    explicit ``--resume``, and never below the children already done.
    """
    from nas.search.runner import load_run_settings
    from nas.search.selection import check_flags as select_check_flags
    from nas.search.weight_sharing import check_flags

    check_flags(given)
    target: Path | None = None
    if resume:
        target = Path(resume)
    elif given.get("name"):
        candidate = Path(given.get("results_dir", SearchSettings.results_dir)) / given["name"]
        if _is_file(candidate / "config.json") or resume == "":
            target = candidate
    elif resume == "":
        raise ConfigError("--resume needs a run folder, or --name of a run in --results-dir")
    if target is None:
        select_check_flags(apply_preset(given))
        if "max_samples" in given and not apply_preset(given).get("retrain_duplicates"):
            raise ConfigError("--max-samples only applies with --retrain-duplicates (a cell trained again)")
        settings = SearchSettings.from_dict(apply_preset(given))
        settings.validate()
        # The score a default resolves to is recorded: a resume keeps it whatever the default becomes.
        settings = dataclasses.replace(settings, score=settings.score_by)
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
        for k, v in given.items()
        if k not in MAY_DIFFER_ON_RESUME and k in saved_values and saved_values[k] != v
    }
    explicit = resume is not None
    if not explicit and given.get("trials", saved.trials) != saved.trials:
        differ["trials"] = (saved.trials, given["trials"])
    if differ:
        what = "; ".join(f"{k} is {old!r} there, {new!r} here" for k, (old, new) in differ.items())
        hint = (
            "start a new run with another --name"
            if explicit
            else f"pick another --name, or continue it with `nas search --resume {target}"
            + (f" --trials {given['trials']}`" if "trials" in differ else "`")
        )
        raise ConfigError(f"run {target} exists with other settings ({what}): {hint}")
    runtime = {k: v for k, v in given.items() if k in RUNTIME_KEYS}
    overrides = {"name": target.name, "results_dir": str(target.parent), **runtime}
    if explicit and "trials" in given:
        done = len(run_folder.trials())  # the search stage's
        if given["trials"] < done:
            raise ConfigError(f"--trials {given['trials']}: run {target} has already done {done} children")
        if given["trials"] != saved.trials and run_folder.stage_folder("select").trials():
            raise ConfigError(  # its cells are the search's top ones: more children could change them
                f"--trials {given['trials']}: run {target} has begun its selection stage (--select-top); "
                "start a new run to search further"
            )
        overrides["trials"] = given["trials"]
    settings = SearchSettings.from_dict({**saved_values, **overrides})
    settings.validate()
    for stage in ("search", "select"):  # each stage's books against its rows (the selection's: --select-top)
        repaired = check_history(run_folder.stage_folder(stage))
        if repaired:
            logger.warning("%s", repaired)
    return settings, True


def open_search_run(settings: SearchSettings) -> RunFolder:
    """The run folder of ``settings``: its ``config.json`` written on first use, and its budget
    updated when ``--resume --trials N`` extends it (the one setting a resume may change there)."""
    from nas.search.runner import open_run

    run_folder = open_run(settings)
    saved = read_json(run_folder.config)
    if saved.get("trials") != settings.trials:
        write_json(run_folder.config, {**saved, "trials": settings.trials})
    return run_folder


def training_images(folder: Path) -> int:
    """How many images the CIFAR-10 training batches in ``folder`` hold (reading them also checks them)."""
    from nas.train.data import TRAIN_FILES, read_batch

    return sum(len(read_batch(folder / name)[1]) for name in TRAIN_FILES)


def _is_file(path: Path) -> bool:
    """`Path.is_file`, false for a path the file system refuses (too long): validation then names it."""
    try:
        return path.is_file()
    except OSError:
        return False
