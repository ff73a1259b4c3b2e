"""Argument groups and output helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError, NasError, check_number, shown

if TYPE_CHECKING:
    from nas.model.network import NetworkConfig
    from nas.space.load import AnyGenotype


def add_size_arguments(
    parser: argparse.ArgumentParser,
    *,
    default_N: int | None,
    default_F: int | None,
    F_help: str = "filters of the penultimate layer, the paper's N @ F",
) -> None:
    """``--N`` and either ``--F`` (the paper's N @ F) or ``--C`` (channels per block, first stage)."""
    default = f" (default {default_N})" if default_N is not None else ""
    parser.add_argument(
        "--N", type=integer(1, MAX_N), default=default_N, help=f"normal cells per stage{default}"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--F", type=integer(1, MAX_F), default=default_F, help=F_help)
    size.add_argument(
        "--C",
        type=integer(1, MAX_F),
        default=None,
        help="channels per block in the first stage (instead of F)",
    )


MAX_N = 64  # NASNet's largest model is N=7 (Zoph et al. 2018, Table 2)
MAX_F = 65_536  # NASNet-A large is 6 @ 4032; a network's size is checked once built (`check_size`)
MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights: more is a typo, not a network to show or train


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``low..high``; out of range is argparse's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {shown(text)}") from None
        _in_range(value, integer=True, low=low, high=high)
        return value

    return parse


def real(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``low..high`` (``low`` excluded when ``low_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {shown(text)}") from None
        _in_range(value, integer=False, low=low, high=high, low_open=low_open)
        return value

    return parse


def _in_range(value: float, **bounds: Any) -> None:
    try:
        check_number("value", value, **bounds)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value").lstrip(": ")) from None


def check_network_size(genotype: AnyGenotype, config: NetworkConfig) -> None:
    """Refuse a network of more than `MAX_PARAMS` parameters before any memory is allocated for it
    (it is built on PyTorch's meta device, where tensors have shapes and no storage)."""
    import torch

    from nas.model.build import build_any_network
    from nas.model.counting import count_params

    with torch.device("meta"):
        params = count_params(build_any_network(genotype, config), include_aux=True)
    if params > MAX_PARAMS:
        raise ConfigError(
            f"{config.N} cells per stage at C={config.C} make {params:,} parameters, over the limit of "
            f"{MAX_PARAMS:,}; lower --N, --F or --C"
        )


def check_output_dir(path: str | Path, flag: str) -> Path:
    """Refuse, before any work, an output folder that is a file or cannot be created or written."""
    target = Path(path)
    _check_writable(target, target, flag)
    return target


def check_output_file(path: str | Path, flag: str) -> Path:
    """Refuse, before any work, an output file that is a folder or whose folder cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise NasError(f"{flag} {target}: is a folder, expected a file name")
    _check_writable(target.parent, target, flag)
    if target.exists() and not os.access(target, os.W_OK):
        raise NasError(f"{flag} {target}: not writable")
    return target


def _check_writable(folder: Path, target: Path, flag: str) -> None:
    """``folder`` is, or can be made as, a writable folder; messages name ``target`` and the culprit."""
    probe = folder
    try:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
    except OSError as exc:  # e.g. a name too long for the file system
        raise NasError(f"{flag} {shown(str(target))}: {exc.strerror or exc}") from None
    if not probe.is_dir():
        where = "not a folder" if probe == target else f"{probe} is not a folder"
        raise NasError(f"{flag} {target}: {where}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise NasError(f"{flag} {target}: {probe} is not writable")


@contextlib.contextmanager
def ray_output_to(log: Path, *, kept_if: Path) -> Iterator[None]:
    """Send file descriptor 2 (where Ray's C++ core, its raylet and its worker relays write) to
    ``log`` while Ray runs, and shut Ray down inside, so that under ``--json`` stderr carries only our
    own one-line error, if any. Restored before that line is printed. A Ray this process had
    started already is left running. Unless ``kept_if`` exists by then (the run was opened), the log
    and its folder, if left empty, are removed: a refused command leaves nothing behind."""
    import ray

    ours = not ray.is_initialized()  # a Ray the caller started is the caller's to shut down
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with log.open("a", encoding="utf-8") as f:
            os.dup2(f.fileno(), 2)
            try:
                yield
            finally:
                if ours:
                    ray.shutdown()  # its exit messages go to the log too
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        if not kept_if.exists():
            log.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                log.parent.rmdir()


def export_command(run_dir: Path) -> str:
    """The `nas export` command line for a finished `nas train`/`nas transfer` folder, as printed
    after training (``--format onnx`` is the other choice)."""
    import shlex

    return f"nas export {shlex.quote(str(run_dir))} --format pt2"


def add_json_argument(parser: argparse._ActionsContainer) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))
