"""`nas submit`: send a search to a Ray cluster as a Ray job, then follow, inspect or stop it.

    nas submit --address http://HEAD:8265 [search flags] [--wait]   submit; print the job id
    nas submit --address http://HEAD:8265 --status JOB | --logs JOB [--follow] | --stop JOB

The job runs ``nas search [search flags] --address auto`` on the cluster's head node (`nas.search.jobs`).
Relative paths among the flags (``--data-dir``, ``--results-dir``, ``--config``) are made absolute here,
so on a cluster they must name storage the head node sees. The same search can be sent with Ray's
own CLI: ``ray job submit --address http://HEAD:8265 --working-dir . -- nas search ...``.
``--address`` defaults to ``$RAY_ADDRESS`` when that is an http(s) URL, else http://127.0.0.1:8265.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from nas.cli.common import add_json_argument, print_json
from nas.cli.search import add_search_arguments, given_settings
from nas.errors import ConfigError
from nas.search.settings import SearchSettings, flag_name

_PATH_OPTIONS = frozenset({"data_dir", "results_dir", "config"})


OWN_HELP = True  # `add_search_arguments`'s: --preset NAME --help shows the preset's values
HELP = "submit a search to a Ray cluster as a Ray job; follow, inspect or stop it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="the cluster's job server, http://HEAD:8265 (see above)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--status", metavar="JOB", help="print a job's status")
    action.add_argument("--logs", metavar="JOB", help="print a job's logs (with --follow: until it ends)")
    action.add_argument("--stop", metavar="JOB", help="stop a running job")
    parser.add_argument("--follow", action="store_true", help="with --logs: stream until the job ends")
    parser.add_argument("--wait", action="store_true", help="after submitting, stream the logs until it ends")
    parser.add_argument(
        "--working-dir",
        type=Path,
        help="folder shipped with the job (default: this checkout, when nas runs from one)",
    )
    # ours names the job server; the job joins the cluster it runs on (`--address auto`)
    add_search_arguments(parser, skip=frozenset({"address"}), title="search flags, forwarded: ")
    add_json_argument(parser)
    parser.set_defaults(run=run)


def forwarded_flags(args: argparse.Namespace, *, cwd: Path) -> list[str]:
    """The search flags given on this command line, as ``nas search`` arguments, paths made absolute."""
    argv: list[str] = []
    for f in dataclasses.fields(SearchSettings):
        value = getattr(args, f.name, None)
        if value is None or f.name == "address":  # ours names the job server; the job joins its cluster
            continue
        if value is True:
            argv.append(flag_name(f.name))
        elif value is False:  # only a setting on by default has a flag that gives False: --no-NAME
            argv.append("--no-" + flag_name(f.name).removeprefix("--"))
        elif isinstance(value, list):  # --searcher-option, repeated
            argv += [a for pair in value for a in (flag_name(f.name), pair)]
        else:
            argv += [flag_name(f.name), str((cwd / value).resolve() if f.name in _PATH_OPTIONS else value)]
    if args.config is not None:
        argv += ["--config", str((cwd / args.config).resolve())]
    return argv


def run(args: argparse.Namespace) -> int:
    from nas.search import jobs

    if args.follow and args.logs is None:
        raise ConfigError("--follow goes with --logs JOB")
    if args.status is None and args.logs is None and args.stop is None:
        _settings(args)  # refuse bad search flags before reaching for the cluster
    client = jobs.connect(args.address)
    if args.status is not None:
        state = jobs.status(client, args.status)
        if args.json:
            print_json(state.to_dict())
        else:
            print(f"{state.job_id}: {state.status}" + (f" ({state.message})" if state.message else ""))
        return 0
    if args.logs is not None:
        if args.follow:
            final = jobs.follow(client, args.logs, sys.stdout.write)
            return 0 if final.status == "SUCCEEDED" else 1
        sys.stdout.write(jobs.logs(client, args.logs))
        return 0
    if args.stop is not None:
        stopped = jobs.stop(client, args.stop)
        print(f"{args.stop}: {'stop requested' if stopped else 'had already ended'}")
        return 0
    return _submit(args, client)


def _settings(args: argparse.Namespace) -> Any:
    """The search's settings, validated here, not minutes later on the cluster."""
    from nas.search.presets import apply_preset

    settings = SearchSettings.from_dict(apply_preset(given_settings(args)))
    settings.validate()
    return settings


def _submit(args: argparse.Namespace, client: Any) -> int:
    from nas.search import jobs
    from nas.search.settings import default_run_name

    settings = _settings(args)
    if args.name is None:  # named here so that the run folder can be told before the job starts
        args.name = default_run_name(settings)
    if args.results_dir is None:
        args.results_dir = settings.results_dir
    working_dir = args.working_dir.resolve() if args.working_dir is not None else jobs.project_root()
    entrypoint = jobs.search_entrypoint(forwarded_flags(args, cwd=Path.cwd()))
    run_dir = (Path.cwd() / args.results_dir / args.name).resolve()
    job_id = jobs.submit(client, entrypoint, working_dir=working_dir, metadata={"nas_run": str(run_dir)})
    info = {"job_id": job_id, "address": client.get_address(), "run_dir": str(run_dir)}
    if not args.wait:
        if args.json:
            print_json({**info, "entrypoint": entrypoint})
        else:
            print(f"submitted job {job_id}; run folder {run_dir} (on the head node)")
            print(f"follow it with: nas submit --address {info['address']} --logs {job_id} --follow")
        return 0
    print(f"submitted job {job_id}; run folder {run_dir} (on the head node)", file=sys.stderr)
    final = jobs.follow(client, job_id, sys.stderr.write)
    if args.json:
        print_json({**info, **final.to_dict()})
    else:
        print(f"{job_id}: {final.status}")
    return 0 if final.status == "SUCCEEDED" else 1
