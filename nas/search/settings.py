"""Every setting of a search, typed and checked before Ray starts; what a child's worker is sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from nas.errors import ConfigError, check_number, shown

SCHEDULERS = ("fifo", "asha")
MAX_TEXT = 1000  # characters of a name, a path or an address

RANGES: dict[str, tuple[float | None, float | None]] = {
    "trials": (1, 1_000_000),
    "epochs": (1, 10_000),
    "N": (1, 32),  # a child, not the final network: NASNet-A's CIFAR model is N=6
    "C": (1, 512),  # C=512 at N=32 is already ~10^10 parameters; the proxy uses 8
    "blocks": (1, 32),
    "batch_size": (1, 1 << 20),  # and at most --train-size (`check_data_size`)
    "lr": (0, None),  # huge but finite is allowed: a diverging child is a failed row, not bad input
    "train_size": (1, 10_000_000),
    "val_size": (1, 10_000_000),
    "seed": (0, 2**32 - 1),  # numpy and Optuna take seeds in 0..2^32-1
    "gpus_per_trial": (0, 1024),
    "cpus_per_trial": (0, 1 << 20),
    "max_concurrent": (1, 1 << 20),
    "max_failures": (0, 1000),
    "max_wait": (1, 7 * 24 * 3600),
    "max_params": (1, None),
    "max_mult_adds": (1, None),
    "verify_top": (0, 10_000),
    "verify_epochs": (1, 10_000),
    "ws_candidates": (1, 1_000_000),
    "ws_controller_steps": (1, 100_000),
    "ws_archs_per_step": (1, 100_000),
    "ws_reward_batch": (1, 10_000_000),
}
"""Each numeric setting's bounds (inclusive, except those in `OPEN_BELOW`); the cluster and the data
bound some further once known (`nas.search.runner.check_resources`, `SearchSettings.check_data_size`)."""
OPEN_BELOW = frozenset({"lr", "cpus_per_trial"})


FLAGS = {"searcher_options": "--searcher-option"}
"""Settings whose flag is not the key spelt with dashes."""


def flag_name(key: str) -> str:
    """``batch_size`` -> ``--batch-size``: messages name the flag, which is also the TOML key's source."""
    if key in FLAGS:
        return FLAGS[key]
    return "--" + key.replace("_", "-")


def check_type(name: str, value: Any, hint: Any) -> None:
    """Refuse ``value`` unless it fits the annotation ``hint`` (the plain types settings and searcher
    constructors use: int, float, bool, str, None, unions, Literal, dict, Any); TOML and
    ``--searcher-option`` values arrive untyped."""
    if _fits(value, hint):
        return
    raise ConfigError(f"{name}: expected {_describe(hint)}, got {shown(value)}")


def _fits(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any or hint is object:
        return True
    if origin in (Union, UnionType):
        return any(_fits(value, h) for h in get_args(hint))
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in get_args(hint))
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, hint) or (hint.__module__ == "pathlib" and isinstance(value, str))
    return True  # an annotation this check does not model: the constructor checks it


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        return " or ".join(_describe(h) for h in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(hint)))
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "none"}
    if hint in names:
        return names[hint]
    return "a table" if origin is dict or hint is dict else getattr(hint, "__name__", str(hint))


@dataclass(frozen=True)
class SearchSettings:
    """Every setting of a search, as saved in ``config.json``. Defaults: a small search on this machine."""

    space: str = "nasnet"
    searcher: str = "rl"
    searcher_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of its constructor
    trials: int = 16  # the README's main job; the searchers' defaults are sized to teach within it
    epochs: int = 1
    N: int = 1
    C: int = 8
    blocks: int = 5
    batch_size: int = 32  # with lr 0.1 and 2,048 images, one epoch (64 steps) lifts cells to ~30% from 10%
    lr: float = 0.1
    data_dir: str | None = None
    download: bool = False
    train_size: int = 2048
    val_size: int = 512
    seed: int = 0
    address: str | None = None
    gpus_per_trial: float | None = None  # None: 0 on a cluster without GPUs, else 1
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None  # None: as many as the cluster's CPUs allow
    scheduler: str = "fifo"
    max_failures: int = 1  # retries of a child whose worker died (preempted node, OOM kill)
    max_wait: float = 600.0  # seconds children may wait for resources with none running
    max_params: int | None = None
    max_mult_adds: int | None = None
    name: str | None = None
    results_dir: str = "results"
    wandb: str = "auto"
    wandb_project: str = "nas"
    wandb_entity: str | None = None
    # Weight sharing (ENAS, `nas.search.weight_sharing`): --epochs are then supernet epochs.
    weight_sharing: bool = False
    verify_top: int = 5  # candidates trained as stand-alone children
    verify_epochs: int = 1  # epochs of each verified child
    ws_candidates: int = 1000  # architectures scored on the whole validation split
    ws_controller_steps: int = 30  # searcher updates per epoch (ENAS: 30 x 10 architectures)
    ws_archs_per_step: int = 10
    ws_reward_batch: int = 160  # validation images per reward (ENAS: one 160-image minibatch)

    def validate(self) -> None:
        """Refuse bad input before Ray starts: every field typed and in range, each message naming its
        flag; the searcher options are checked against the searcher's constructor (its types, then its
        own range checks on a throw-away instance)."""
        from nas.search.searcher import searcher_names
        from nas.tracking.base import MODES
        from search_spaces import SPACES

        hints = get_type_hints(SearchSettings)
        for f in fields(self):
            check_type(flag_name(f.name), getattr(self, f.name), hints[f.name])
        for key, (low, high) in RANGES.items():
            value = getattr(self, key)
            if value is not None:
                check_number(
                    flag_name(key),
                    value,
                    integer=hints[key] in (int, int | None),
                    low=low,
                    high=high,
                    low_open=key in OPEN_BELOW,
                )
        choices = {
            "space": ("search space", tuple(SPACES)),
            "searcher": ("searcher", searcher_names()),
            "scheduler": ("scheduler", SCHEDULERS),
            "wandb": ("W&B mode", MODES),
        }
        for key, (noun, known) in choices.items():
            if getattr(self, key) not in known:
                raise ConfigError(
                    f"{flag_name(key)}: unknown {noun} {shown(getattr(self, key))}; known: {', '.join(known)}"
                )
        for key in ("name", "results_dir", "data_dir", "address", "wandb_project", "wandb_entity"):
            value = getattr(self, key)
            if value is not None and (not value.strip() or len(value) > MAX_TEXT or "\0" in value):
                raise ConfigError(
                    f"{flag_name(key)}: expected a non-empty text without NUL, got {shown(value)}"
                )
        if self.name is not None and (self.name in (".", "..") or "/" in self.name or "\\" in self.name):
            raise ConfigError(f"--name: a run name is a folder name (no / or \\), got {shown(self.name)}")
        if self.weight_sharing:  # --weight-sharing's cross-checks (nas/search/weight_sharing.py)
            if self.verify_top > self.ws_candidates:
                raise ConfigError(f"--verify-top must be in 0..--ws-candidates ({self.ws_candidates})")
            if self.ws_reward_batch > self.val_size:
                raise ConfigError(
                    f"--ws-reward-batch {self.ws_reward_batch} exceeds --val-size {self.val_size}"
                )
        self.check_searcher_options()

    def check_searcher_options(self) -> None:
        """``--searcher-option`` values: known to the searcher's constructor, of its annotated types,
        and accepted by its own range checks (a throw-away instance on the space, no storage)."""
        from nas.search.searcher import (
            build_space,
            check_searcher_options,
            searcher_class,
            searcher_option_types,
        )

        for key in self.searcher_options:
            if not isinstance(key, str) or key in ("seed", "storage_path", "space"):
                raise ConfigError(f"--searcher-option: {shown(key)} is set by the search itself")
        try:
            check_searcher_options(self.searcher, self.searcher_options)
        except ConfigError as exc:
            raise ConfigError(f"--searcher-option: {exc}") from None
        factory = searcher_class(self.searcher)
        hints = searcher_option_types(self.searcher)
        for key, value in self.searcher_options.items():
            if key in hints:
                check_type(f"--searcher-option {key}", value, hints[key])
        try:
            space = build_space(self.space, blocks=self.blocks)
            factory(space, seed=self.seed, **self.searcher_options).close()
        except ConfigError as exc:
            raise ConfigError(f"--searcher-option: {exc}") from None

    def check_data_size(self, images: int) -> None:
        """Refuse sizes the CIFAR-10 training batches cannot give (``images`` of them), before Ray."""
        if self.val_size >= images:
            raise ConfigError(f"--val-size {self.val_size}: the data has only {images} training images")
        if self.train_size > images - self.val_size:
            raise ConfigError(
                f"--train-size {self.train_size}: the data has {images} training images, "
                f"{self.val_size} of them held out (--val-size), so at most {images - self.val_size}"
            )
        if self.batch_size > self.train_size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than --train-size {self.train_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ChildSettings:
    """What a child's worker needs besides its genotype (shipped once with ``tune.with_parameters``)."""

    data_dir: str | None
    train_size: int
    val_size: int
    split_seed: int
    network: dict[str, Any]
    train: dict[str, Any]


def default_run_name(settings: SearchSettings) -> str:
    return f"{settings.searcher}-s{settings.seed}-{datetime.now():%Y%m%d-%H%M%S}"
