"""Every setting of a search, typed and checked before Ray starts; what a child's worker is sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

from nas.errors import ConfigError, check_number, shown

if TYPE_CHECKING:
    from nas.model.network import NetworkConfig
    from nas.train.trainer import TrainConfig

SCHEDULERS = ("fifo", "asha")
TELL_ORDERS = ("asked", "arrival")
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
    "select_top": (0, 10_000),
    "select_epochs": (1, 10_000),
    "select_seeds": (1, 1_000),
    "max_samples": (1, 1_000),
    "verify_top": (0, 10_000),
    "verify_epochs": (1, 10_000),
    "ws_candidates": (1, 1_000_000),
    "ws_controller_steps": (1, 100_000),
    "ws_archs_per_step": (1, 100_000),
    "ws_reward_batch": (1, 10_000_000),
    "ws_screen_batches": (1, 10_000_000),
    "ws_screen_keep": (0, 1),
}
"""Each numeric setting's bounds (inclusive, except those in `OPEN_BELOW`); the cluster and the data
bound some further once known (`nas.search.runner.check_resources`, `SearchSettings.check_data_size`)."""
OPEN_BELOW = frozenset({"lr", "cpus_per_trial", "ws_screen_keep"})


def flag_name(key: str) -> str:
    """``batch_size`` -> ``--batch-size``: messages name the flag, which is also the TOML key's source."""
    flag = SearchSettings.__dataclass_fields__[key].metadata.get("flag")
    return str(flag) if flag else "--" + key.replace("_", "-")


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


GROUPS: dict[str, str] = {
    "selection": "selection: the space, the searcher and its budget",
    "child": "child: how each proposed cell is trained and scored (the reward)",
    "select": "select stage: the search's top cells retrained longer, the winner by mean accuracy (NASNet)",
    "data": "data: CIFAR-10 and its split",
    "cluster": "cluster: where and how many children run (Ray Tune)",
    "run": "run folder",
    "tracking": "tracking (W&B)",
    "weight sharing": "weight sharing (ENAS; nas/search/weight_sharing.py)",
}
"""The sections of ``nas search --help``, in order; each setting names its own (`setting`)."""


def setting(
    default: Any = None,
    *,
    help: str,
    group: str,
    flag: str | None = None,
    none: str | None = None,
    runtime: bool = False,
    choices: str | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A `SearchSettings` field and everything the CLI makes of it: its ``help`` (the default is added
    from the field, so it is stated once), its ``--help`` ``group``, its ``flag`` when not the name
    spelt with dashes, what a None default means (``none``), whether a resumed run takes it from the
    command rather than from its ``config.json`` (``runtime``), and the registry its value must be
    in (``choices``, checked by `SearchSettings.validate`)."""
    assert group in GROUPS, group
    metadata = {"help": help, "group": group, "flag": flag, "none": none, "runtime": runtime}
    metadata["choices"] = choices
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SearchSettings:
    """Every setting of a search, as saved in ``config.json``; the `setting` metadata of each field is
    also its ``nas search`` flag and help. Defaults: the ``cpu`` preset, a small search on this machine
    (`nas.search.presets`)."""

    preset: str = setting(
        "cpu",
        help="named defaults for where the search runs: cpu, gpu or nasnet (`nas search --preset NAME "
        "--help` shows its values); flags and --config override it",
        group="selection",
        choices="preset",
    )
    space: str = setting("nasnet", help="search space", group="selection", choices="space")
    searcher: str = setting("rl", help="rl, tpe, random or evolution", group="selection", choices="searcher")
    searcher_options: dict[str, Any] = setting(
        help="a searcher option: a field of rl's RLConfig, else a constructor keyword (repeatable; VALUE "
        "is read as JSON, else as a string). Defaults, sized so the default 16 children teach every "
        "searcher: rl batch_size=4 (a controller update per 4 children), lr=0.01, "
        "advantage=leave_one_out; evolution population_size=8, sample_size=8; tpe n_startup_trials=4",
        group="selection",
        flag="--searcher-option",
        factory=dict,
    )
    trials: int = setting(
        16,  # the README's main job; the searchers' defaults are sized to teach within it
        help="children to evaluate in all, counting those a resumed run has done; a cell proposed again is "
        "told its recorded result, not trained, and not counted; with --resume, a larger budget extends "
        "a finished search",
        group="selection",
    )
    retrain_duplicates: bool = setting(
        False,
        help="train a cell the run has evaluated again, another sample of a noisy proxy, instead of "
        "telling the searcher its recorded result (up to --max-samples times); each cell is then "
        "ranked by its samples' mean, shrunk towards a model of the other cells once the repeats "
        "measure the proxy's noise (the report, best_genotype.json; docs/benchmarks.md)",
        group="selection",
    )
    max_samples: int = setting(
        3,  # measured: docs/benchmarks.md, "--retrain-duplicates as nas search runs it"
        help="with --retrain-duplicates: the most times one cell is trained; proposed again after "
        "that, it is told its recorded result (not trained, not counted in --trials)",
        group="selection",
    )
    seed: int = setting(0, help="searcher seed, also the children's", group="selection")
    blocks: int = setting(5, help="blocks per cell, the space's B (NASNet space only)", group="selection")
    benchmark: str | None = setting(
        help="NAS-Bench-201 table, the nats_bench CSV: tabular mode, every child answered with the "
        "table's 200-epoch CIFAR-10 test accuracy instead of trained; --space nas-bench-201 only",
        group="selection",
        none="children are trained",
    )
    benchmark_train: bool = setting(
        False,
        help="with --benchmark: train the children as usual and record the table's accuracy beside "
        "each, column table_accuracy; nas report plots one against the other",
        group="selection",
        flag="--train",
    )
    warm_start: str | None = setting(
        help="PROXY:N[:K]: score N random cells with the zero-cost proxy (seconds, before the first "
        "child) and make the search's first K children (default min(4, N)) the best of them, told to "
        "the searcher like any child; recorded in warm_start.json (docs/zero_cost.md)",
        group="selection",
        none="no warm start",
    )
    # The selection stage (`nas.search.selection`): NASNet's retraining of the search's top cells.
    select_top: int = setting(
        0,
        help="after the search, retrain its K best distinct cells (by score) for --select-epochs with "
        "--select-seeds seeds each, as leaderboard rows of stage select; best_genotype.json is then the "
        "cell with the best mean accuracy over its seeds (Zoph et al. 2018, Sec. 4); 0: no selection",
        group="select",
    )
    select_epochs: int = setting(5, help="epochs per selection child", group="select")
    select_seeds: int = setting(1, help="children (seeds) per selected cell", group="select")
    score: str | None = setting(
        help="what a child is scored by, the searcher's reward and the leaderboard's order: val_accuracy, "
        "val_loss (as exp(-loss)), train_loss_sum (as exp(-mean training loss)) or zero_cost (the untrained "
        "child's synflow_naswot proxy, nothing trained); Kendall tau against NAS-Bench-201's 200-epoch "
        "accuracy here: val_loss 0.24-0.37, val_accuracy 0.06, zero_cost 0.63 (docs/fidelity.md)",
        group="child",
        choices="score",
        none="val_loss; val_accuracy in tabular mode (--benchmark without --train: the table has no loss)",
    )
    crn: bool = setting(
        True,
        help="common random numbers: every child trains with the search's --seed (same data order, "
        "augmentation and stem initialisation), so children differ by their cells; --no-crn gives each "
        "child a seed of its own",
        group="child",
    )
    epochs: int = setting(1, help="epochs per child", group="child")
    N: int = setting(1, help="normal cells per stage of a child", group="child")
    C: int = setting(8, help="channels per block in a child's first stage", group="child")
    batch_size: int = setting(
        32,  # with lr 0.1 and 2,048 images, one epoch (64 steps) lifts cells to ~30% from 10%
        help="child batch size",
        group="child",
    )
    lr: float = setting(0.1, help="child learning rate", group="child")
    max_params: int | None = setting(
        help="reject children with more parameters", group="child", none="no limit"
    )
    max_mult_adds: int | None = setting(
        help="reject children with more mult-adds", group="child", none="no limit"
    )
    data_dir: str | None = setting(
        help="CIFAR-10 folder",
        group="data",
        none="$NAS_DATA_DIR, else ~/.cache/nas/cifar10, downloaded there",
        runtime=True,
    )
    download: bool = setting(False, help="download CIFAR-10 first", group="data", runtime=True)
    train_size: int = setting(2048, help="training images per child", group="data")
    val_size: int = setting(512, help="validation images held out of the training batches", group="data")
    address: str | None = setting(
        help="join a Ray cluster: auto, HOST:PORT or ray://HOST:10001",
        group="cluster",
        none="local Ray",
        runtime=True,
    )
    gpus_per_trial: float | None = setting(
        help="GPUs per child; fractions pack children on a GPU",
        group="cluster",
        none="1 if any, else 0",
        runtime=True,
    )
    cpus_per_trial: float = setting(1.0, help="CPUs per child", group="cluster", runtime=True)
    max_concurrent: int | None = setting(
        help="children at once",
        group="cluster",
        none="as many as the cluster's resources allow",
        runtime=True,
    )
    scheduler: str = setting(
        "fifo", help="fifo or asha (early stopping)", group="cluster", choices="scheduler"
    )
    tell_order: str | None = setting(
        help="asked: the searcher is told results in the order their children were asked, so a seeded "
        "search is reproducible with several children at a time; arrival: as they finish (no child "
        "waits on an older one's result)",
        group="cluster",
        none="asked on CPUs, arrival with GPUs (whose children are not bitwise reproducible)",
        choices="tell_order",
    )
    max_failures: int = setting(
        1,
        help="retries of a child whose worker died (preempted node, OOM kill)",
        group="cluster",
        runtime=True,
    )
    max_wait: float = setting(
        600.0,
        help="seconds children may wait for resources with none running before the search stops",
        group="cluster",
        runtime=True,
    )
    name: str | None = setting(
        help="run name; an existing run of that name resumes if the settings given match its own, else "
        "it is an error",
        group="run",
        none="<searcher>-s<seed>-<time>",
    )
    results_dir: str = setting("results", help="root of the run folders", group="run")
    wandb: str = setting(
        "auto",
        help="W&B mode: auto, online, offline or disabled",
        group="tracking",
        choices="wandb",
        runtime=True,
    )
    wandb_project: str = setting("nas", help="W&B project", group="tracking")
    wandb_entity: str | None = setting(help="W&B entity", group="tracking", none="yours")
    # Weight sharing (ENAS, `nas.search.weight_sharing`): --epochs are then supernet epochs.
    weight_sharing: bool = setting(
        False,
        help="ENAS: train one supernet for --epochs, score candidates with its shared weights, then train "
        "the --verify-top best as children",
        group="weight sharing",
    )
    verify_top: int = setting(
        5, help="best candidates trained as stand-alone children", group="weight sharing"
    )
    verify_epochs: int = setting(1, help="epochs per verified child", group="weight sharing")
    ws_candidates: int = setting(
        1000, help="architectures scored on the validation split", group="weight sharing"
    )
    ws_controller_steps: int = setting(
        30,  # ENAS: 30 x 10 architectures
        help="searcher updates per supernet epoch",
        group="weight sharing",
    )
    ws_archs_per_step: int = setting(10, help="architectures per searcher update", group="weight sharing")
    ws_reward_batch: int = setting(
        160,  # ENAS: one 160-image minibatch
        help="validation images per reward",
        group="weight sharing",
    )
    # Candidate scoring by successive halving (Li & Talwalkar 2019; `nas.search.halving`).
    ws_screen_batches: int = setting(
        1,
        help="--ws-reward-batch minibatches every candidate is first scored on; the best move on to 4x "
        "the images, until the whole validation split",
        group="weight sharing",
    )
    ws_screen_keep: float = setting(
        # 0.1, not successive halving's 1/eta: with the default 512-image split there are two rungs, so
        # 100 of 1,000 go to the whole split, as Li & Talwalkar score only the best there; 0.25 put the
        # `--epochs 2` command at 8 min 15 s on 2 cores, 0.1 saves ~75 s (docs/performance.md).
        0.1,
        help="the best fraction of a rung's candidates, scored again on 4x the images (at least --verify-top)",
        group="weight sharing",
    )

    def validate(self) -> None:
        """Refuse bad input before Ray starts: every field typed and in range, each message naming its
        flag; the searcher options are checked against the searcher's constructor (its types, then its
        own range checks on a throw-away instance)."""
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
        for f in fields(self):
            if f.metadata.get("choices"):
                noun, known = _registry(f.metadata["choices"])
                if getattr(self, f.name) is not None and getattr(self, f.name) not in known:
                    raise ConfigError(
                        f"{flag_name(f.name)}: unknown {noun} {shown(getattr(self, f.name))}; "
                        f"known: {', '.join(known)}"
                    )
        for key in ("name", "results_dir", "data_dir", "address", "wandb_project", "wandb_entity"):
            value = getattr(self, key)
            if value is not None and (not value.strip() or len(value) > MAX_TEXT or "\0" in value):
                raise ConfigError(
                    f"{flag_name(key)}: expected a non-empty text without NUL, got {shown(value)}"
                )
        if self.name is not None and (self.name in (".", "..") or "/" in self.name or "\\" in self.name):
            raise ConfigError(f"--name: a run name is a folder name (no / or \\), got {shown(self.name)}")
        self.check_space()
        if self.warm_start is not None:
            from nas.search.warm_start import WarmStart

            WarmStart.parse(self.warm_start)
            if self.weight_sharing:
                raise ConfigError("--warm-start: not with --weight-sharing (its searcher drives a supernet)")
        if self.weight_sharing and self.score == "zero_cost":
            raise ConfigError(
                "--score zero_cost: not with --weight-sharing (its supernet and verified children train)"
            )
        if self.weight_sharing:  # --weight-sharing's cross-checks (nas/search/weight_sharing.py)
            if self.verify_top > self.ws_candidates:
                raise ConfigError(f"--verify-top must be in 0..--ws-candidates ({self.ws_candidates})")
            if self.ws_reward_batch > self.val_size:
                raise ConfigError(
                    f"--ws-reward-batch {self.ws_reward_batch} exceeds --val-size {self.val_size}"
                )
        self.check_select()
        self.check_searcher_options()

    def check_select(self) -> None:
        """The selection stage's cross-checks: cells the search will have, and a stage that trains."""
        if not self.select_top:
            return
        if self.weight_sharing:
            raise ConfigError(
                "--select-top: not with --weight-sharing (its --verify-top children are its selection)"
            )
        if self.tabular:  # the table's 200-epoch accuracy is what retraining longer would estimate
            raise ConfigError(
                "--select-top: in tabular mode (--benchmark without --train) a child's score is already "
                "the table's 200-epoch accuracy; nothing to retrain (add --train to train the children)"
            )
        if self.select_top > self.trials:
            raise ConfigError(
                f"--select-top {self.select_top}: the search trains only {self.trials} children (--trials)"
            )

    def check_space(self) -> None:
        """The settings that only one space has: --blocks and --weight-sharing are the NASNet space's,
        --benchmark is NAS-Bench-201's (its table is checked where it is read: `check_benchmark`)."""
        nb201 = self.space == "nas-bench-201"
        default_blocks = SearchSettings.__dataclass_fields__["blocks"].default
        if nb201 and self.blocks != default_blocks:  # the default is ignored: it is in every config
            raise ConfigError(f"--blocks {self.blocks}: the nas-bench-201 space has no blocks (6 edges)")
        if nb201 and self.weight_sharing:
            raise ConfigError(
                "--weight-sharing: the supernet is the NASNet space's; not with --space nas-bench-201"
            )
        if self.benchmark is not None and not nb201:
            raise ConfigError(
                f"--benchmark: the table answers nas-bench-201 cells only; not with --space {self.space}"
            )
        if self.benchmark_train and self.benchmark is None:
            raise ConfigError(
                "--train: trains beside a --benchmark table; without one children are trained anyway"
            )
        if self.tabular and self.score not in (None, "val_accuracy"):
            raise ConfigError(
                f"--score {self.score}: in tabular mode (--benchmark without --train) a child is the "
                "table's accuracy, which has no loss; use --score val_accuracy, or add --train"
            )

    @property
    def tabular(self) -> bool:
        """Children answered from the --benchmark table, not trained."""
        return self.benchmark is not None and not self.benchmark_train

    @property
    def score_by(self) -> str:
        """What children are scored by: --score, else val_loss (docs/fidelity.md), except in tabular
        mode, where the table's accuracy is all a child has. A new run records it in ``config.json``
        (`nas.search.resolve.resolve_settings`), so a resume keeps it whatever the default becomes."""
        if self.score is not None:
            return self.score
        return "val_accuracy" if self.tabular else "val_loss"

    def check_benchmark(self) -> None:
        """Read the --benchmark table (cached), so that a missing, unreadable or wrong table is one line
        before Ray starts (`nas.space.nb201_table`'s errors name the file and what is wrong)."""
        if self.benchmark is not None:
            from nas.space.nb201_table import load_table

            load_table(self.benchmark)

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


def _registry(kind: str) -> tuple[str, tuple[str, ...]]:
    """What a ``choices`` setting is called in messages, and its known values (registries load lazily:
    the searchers import torch)."""
    if kind == "preset":
        from nas.search.presets import PRESETS

        return "preset", tuple(PRESETS)
    if kind == "space":
        from search_spaces import SPACES

        return "search space", tuple(SPACES)
    if kind == "searcher":
        from nas.search.searcher import searcher_names

        return "searcher", searcher_names()
    if kind == "score":
        from nas.results.trial import SCORES

        return "score", SCORES
    if kind == "wandb":
        from nas.tracking.base import MODES

        return "W&B mode", tuple(MODES)
    if kind == "tell_order":
        return "tell order", TELL_ORDERS
    assert kind == "scheduler", kind
    return "scheduler", SCHEDULERS


@dataclass(frozen=True)
class ChildSettings:
    """What a child's worker needs besides its genotype (shipped once with ``tune.with_parameters``,
    which pickles it): the typed configs the trainer takes, built and checked in the driver."""

    data_dir: str | None
    train_size: int
    val_size: int
    split_seed: int
    network: NetworkConfig
    train: TrainConfig
    benchmark: str | None = None  # the table's absolute path (--benchmark)
    benchmark_train: bool = False  # --train: train, and record the table's accuracy beside
    score_by: str = "val_accuracy"  # --score, resolved (`SearchSettings.score_by`)

    @property
    def tabular(self) -> bool:
        """Children answered from the table, not trained."""
        return self.benchmark is not None and not self.benchmark_train

    @classmethod
    def of(cls, settings: SearchSettings) -> ChildSettings:
        """The child's network and training settings (device and memory layout: the trainer's
        defaults). ``data_dir`` is resolved here: the workers may run in another folder."""
        from nas.model.network import NetworkConfig
        from nas.train.trainer import TrainConfig

        network = NetworkConfig(dataset="cifar10", N=settings.N, C=settings.C)
        train = TrainConfig(
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=settings.seed,
            max_params=settings.max_params,
            max_mult_adds=settings.max_mult_adds,
            crn=settings.crn,
        )
        data_dir = str(Path(settings.data_dir).resolve()) if settings.data_dir else None
        benchmark = str(Path(settings.benchmark).expanduser().resolve()) if settings.benchmark else None
        return cls(
            data_dir,
            settings.train_size,
            settings.val_size,
            settings.seed,
            network,
            train,
            benchmark,
            settings.benchmark_train,
            settings.score_by,
        )


def default_run_name(settings: SearchSettings) -> str:
    return f"{settings.searcher}-s{settings.seed}-{datetime.now():%Y%m%d-%H%M%S}"
