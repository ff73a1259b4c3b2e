"""The training recipes: the fields both configs share (`Recipe`), and the published values, as data.

NASNet's CIFAR-10 recipe (TF-slim ``nets/nasnet/nasnet.py``: notes above ``cifar_config`` and
``nasnet_cifar_arg_scope``): 600 epochs at batch 32, learning rate 0.025 with one cosine period,
momentum 0.9, weight decay 5e-4, gradient-norm clip 5, auxiliary head weighted 0.4, ScheduledDropPath
with keep probability 0.6 (so ``drop_path_prob`` 0.4), plus 16-pixel cutout as in the paper's
"NASNet-A + cutout" row.

NAS-Bench-201's recipe (Dong & Yang, ICLR 2020, Sec. 2.3, Table 1), with which every one of its
15,625 cells was trained: 200 epochs at batch 256, SGD with Nesterov momentum 0.9, learning rate 0.1
cosine-annealed to 0, weight decay 5e-4, random flip and 4-pixel-padded random crop (the trainer's
standard augmentation), no gradient clip, cutout, auxiliary head or drop path, on the network of
N=5 cells per stage at C=16 (`nas.model.nb201.PAPER_SIZE`). One difference: the benchmark's CIFAR-10
column trained on all 50,000 training images, and ``nas train`` holds 5,000 of them out for validation
unless ``--val-size`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """What the child trainer (`TrainConfig`) and the transfer (`TransferConfig`) both set: SGD with
    momentum, its regularisers and the seed. Defaults are the search's short proxy, not a paper's."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05  # DARTS's 0.025 at batch 64, scaled linearly to 128
    momentum: float = 0.9
    weight_decay: float = 3e-4
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    aux_weight: float = 0.0
    drop_path_prob: float = 0.0
    cutout: int = 0
    seed: int = 0


PAPER_SCHEDULE: dict[str, Any] = {
    "epochs": 600,
    "batch_size": 32,
    "lr": 0.025,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "grad_clip": 5.0,
    "aux_weight": 0.4,
    "drop_path_prob": 0.4,
    "cutout": 16,
}
"""NASNet's CIFAR-10 training recipe (`nas train --paper-schedule`, the CIFAR-10 default of `nas transfer`)."""


NB201_SCHEDULE: dict[str, Any] = {
    "epochs": 200,
    "batch_size": 256,
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "grad_clip": None,
    "aux_weight": 0.0,
    "drop_path_prob": 0.0,
    "cutout": 0,
}
"""NAS-Bench-201's CIFAR-10 recipe (`nas train --paper-schedule` for an NB201 cell; Table 1 there)."""

IMAGENET_RECIPE: dict[str, Any] = {
    "epochs": 250,
    "batch_size": 128,
    "lr": 0.1,
    "weight_decay": 3e-5,
    "drop_path_prob": 0.0,
    "grad_clip": 10.0,
    "label_smoothing": 0.1,
}
"""DARTS's ImageNet mobile setting (Liu et al. 2019, Sec. 4.2), with NASNet's gradient clip of 10;
label smoothing 0.1 as in both. The CIFAR-10 recipe has none."""
