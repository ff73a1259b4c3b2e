"""Named defaults for where a search runs: ``nas search --preset cpu|gpu|nasnet``.

A preset is data: the `SearchSettings` values that differ from the fields' own defaults (which are the
``cpu`` preset). Order of precedence, lowest first: the field defaults, the preset, a ``--config`` TOML
file, the flags given. ``config.json`` records the preset's name and every resolved value, so a resumed
run keeps them whatever the preset says later. ``nas search --preset NAME --help`` shows a preset's
values as the defaults.

The preset's ``searcher_options`` belong to its searcher: a ``--searcher`` other than the preset's drops
them, and ``--searcher-option KEY=VALUE`` replaces one key, keeping the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nas.errors import ConfigError, shown


@dataclass(frozen=True)
class Preset:
    """A name, what it is for (with what it does not reproduce), and its values."""

    name: str
    description: str
    values: Mapping[str, Any] = field(default_factory=dict)


CPU = Preset(
    "cpu",
    "the proxy a 2-core CPU trains in minutes: N=1, C=8, one epoch on 2,048 images at batch 32, 16 "
    "children (the settings' own defaults)",
)

GPU = Preset(
    "gpu",
    "a GPU search: the proxy child at batch 256, 10 epochs on 20,000 images, NASNet's 5,000 held-out "
    "images, four children per GPU. Sized from the H200 figures of docs/gpu_check.md; the search itself "
    "(children per minute at 0.25 GPU) has not been measured on a GPU",
    {
        # docs/gpu_check.md (H200, torch 2.11): the N=1, C=8 child trains at 11,079 images/s at batch
        # 256 in fp32 against 1,085 at the CPU proxy's batch 32, which is launch-bound on a GPU.
        "batch_size": 256,
        # Not measured: the proxy's lr 0.1 at batch 32 scaled by sqrt(256 / 32) = 2.8, rounded down;
        # the linear rule's 0.8 would want a warm-up the trainer does not have.
        "lr": 0.25,
        # The first steps of a new network in a worker cost 10-18 s of warm-up (docs/gpu_check.md);
        # 10 epochs of 20,000 images (200,000 images, ~18 s at 11,079 images/s) make it a minority of a
        # child's time, and rank cells on more than one epoch's noise.
        "epochs": 10,
        "train_size": 20_000,
        # NASNet's held-out split (Zoph et al. 2018, App. A.1): the reward's standard error falls from
        # ~2.2 points at 512 images to ~0.7.
        "val_size": 5_000,
        # A batch-256 N=1, C=8 child leaves most of an H200 idle (small depthwise and 1x1 kernels,
        # launch-bound); four share one. Not measured: the check's 4_search_gpus_* steps timed out.
        "gpus_per_trial": 0.25,
        # ~30-60 s per child, four per GPU: about 20 minutes on one GPU.
        "trials": 100,
    },
)

NASNET = Preset(
    "nasnet",
    "NASNet's search as published (Zoph et al. 2018, Sec. 4 and App. A): children of N=2, C=32 "
    "(F=32 filters) trained 20 epochs, 5,000 held-out validation images, 20,000 children, 450 at once "
    "on one GPU each, the RNN controller trained with PPO (lr 0.00035, entropy weight 0.00001, baseline "
    "decay 0.95, minibatches of 20 architectures). Needs the whole CIFAR-10 and 450 GPUs to run as "
    "published. Not reproduced: the children's optimizer settings during the search are not published "
    "(the final CIFAR recipe's batch 32 and lr 0.025 stand in), nor their augmentation and regularisation "
    "(no ScheduledDropPath, no cutout here); the workqueue updated the controller synchronously on "
    "batches of returned children, ours is asynchronous; the paper's top-250 re-training is `nas train` "
    "on the leaderboard, not part of the search",
    {
        "trials": 20_000,  # App. A.3: "the search process is terminated after 20,000 child models"
        "epochs": 20,  # Sec. 4 / App. A: each child trained for 20 epochs
        "N": 2,  # App. A: N=2 during the search
        "C": 32,  # F=32: TF-slim's num_conv_filters, this project's channels per block (C)
        "blocks": 5,  # B=5 (Sec. 3)
        "batch_size": 32,  # not published for the search: NASNet's CIFAR recipe (`PAPER_SCHEDULE`)
        "lr": 0.025,  # idem
        "train_size": 45_000,  # the training batches less the held-out split
        "val_size": 5_000,  # App. A.1: 5,000 images held out for the controller's reward
        "score": "val_accuracy",  # the reward is the held-out accuracy (Sec. 4; `--score`'s default is val_loss)
        "max_concurrent": 450,  # App. A.3: a pool of 450 child workers
        "gpus_per_trial": 1.0,  # one GPU (P100) per child
        "searcher": "rl",
        "searcher_options": {
            # App. A.2: a one-layer LSTM of 100 units, trained with PPO at learning rate 0.00035, an
            # entropy penalty weighted 0.00001 and an exponential-moving-average baseline of weight 0.95;
            # App. A.3: minibatches of 20 architectures. No temperature or tanh squashing is published
            # (ENAS added them).
            "hidden_size": 100,
            "ppo": True,
            "lr": 0.00035,
            "entropy_weight": 0.00001,
            "advantage": "moving_average",
            "baseline_decay": 0.95,
            "batch_size": 20,
            "temperature": 1.0,
            "tanh_constant": None,
        },
    },
)

PRESETS: Mapping[str, Preset] = MappingProxyType({p.name: p for p in (CPU, GPU, NASNET)})
"""Every preset by name; ``cpu`` is the default."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown one is a `ConfigError` naming the flag and the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"--preset: unknown preset {shown(name)}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def apply_preset(given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` (the settings of a ``--config`` file and the flags, ``preset`` among them or not) over
    its preset's values: the values a new run starts with, short of the fields' defaults."""
    name = given.get("preset", CPU.name)
    if not isinstance(name, str):
        return dict(given)  # `SearchSettings.validate` names the type
    preset = get_preset(name)
    values = {**preset.values, **given, "preset": preset.name}
    options = dict(preset.values.get("searcher_options", {}))
    if values.get("searcher") != preset.values.get("searcher", values.get("searcher")):
        options = {}  # the options of the preset's searcher mean nothing to another one
    given_options = given.get("searcher_options", {})
    values["searcher_options"] = (
        {**options, **given_options} if isinstance(given_options, Mapping) else given_options
    )
    if not values["searcher_options"] and "searcher_options" not in given:
        del values["searcher_options"]
    return values
