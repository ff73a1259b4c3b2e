"""Use a found cell in your own code: the package's stable Python entry points.

Four functions, each typed and keyword-only past its first argument, whose names and parameters keep
working across releases (everything else in `nas` may move):

- `load_genotype`: a genotype from a JSON file, a search's run folder, a published cell's name or a
  NAS-Bench-201 arch string.
- `build_network`: the CIFAR or ImageNet network stacked from it (Zoph et al. 2018, Fig. 2), sized
  with the paper's ``N @ F`` or by ``C``, untrained; for a NAS-Bench-201 cell, the benchmark's CIFAR
  network (Dong & Yang 2020, Sec. 2.1), sized by ``N`` and ``C``.
- `load_checkpoint`: the trained network a `nas train` or `nas transfer` run saved, in eval mode.
- `export`: that network as a ``.pt2`` or ONNX file that runs without this package.

>>> import torch
>>> import nas
>>> genotype = nas.load_genotype("nasnet-a")
>>> net = nas.build_network(genotype, N=1, C=4).eval()
>>> net(torch.zeros(2, 3, 32, 32)).logits.shape
torch.Size([2, 10])

Networks return `nas.model.network.NetworkOutput`, a named tuple ``(logits, aux_logits)``;
``aux_logits`` is ``None`` in eval mode or without the auxiliary head. Inputs are float32 NCHW images
normalized with the training data's mean and std (`NORMALIZATION`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nas.errors import ConfigError, DataError, first_line
from nas.model.build import AnyNetwork, build_any_network
from nas.model.checkpoint import SavedNetwork, read_network_state
from nas.model.export import check_format, export_network
from nas.model.network import NetworkConfig
from nas.space.genotype import Genotype
from nas.space.load import AnyGenotype, genotype_from_data
from nas.space.nb201 import Nb201Genotype
from nas.space.published import resolve_any_genotype

__all__ = ["NORMALIZATION", "build_network", "export", "load_checkpoint", "load_genotype"]

NORMALIZATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # = nas.train.data.CIFAR10_*
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # = nas.train.imagenet_data.IMAGENET_*
}
"""Per dataset, the (mean, std) per RGB channel of images in [0, 1] that the networks were trained on."""

TRAIN_CHECKPOINT = "model.pt"  # `nas train --out`'s file
TRANSFER_CHECKPOINTS = "ray/transfer/*/state.pt"  # `nas transfer --out`'s, one folder per epoch
RESULT_FILE = "result.json"
SEARCH_LEADERBOARD = "trials.jsonl"  # what marks a search's run folder (`nas.results.run_folder`)
_RESULT_SEARCH_DEPTH = 4  # a transfer's result.json sits 3 folders above its state.pt


def load_genotype(path: str | Path) -> AnyGenotype:
    """The genotype in a JSON file, a search's run folder (its ``best_genotype.json``), a published
    cell's name (``nasnet-a``, ``darts-v2``, ...; `nas.space.published.PUBLISHED`) or a NAS-Bench-201
    arch string: a NASNet-space `Genotype` or an `Nb201Genotype`.

    >>> load_genotype("nasnet-a").normal.num_blocks
    5
    >>> load_genotype("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|").ops[:2]
    ('nor_conv_3x3', 'none')
    """
    return resolve_any_genotype(str(path))


def build_network(
    genotype: AnyGenotype | str | Path,
    *,
    N: int = 2,
    C: int | None = None,
    F: int | None = None,
    dataset: str = "cifar10",
    num_classes: int | None = None,
    auxiliary: bool = False,
) -> AnyNetwork:
    """The untrained ``dataset`` network of ``genotype`` (a genotype, or what `load_genotype` takes).

    ``N`` normal cells per stage; the width either as ``F``, the penultimate layer's filters (the
    paper's ``N @ F``: NASNet-A mobile is ``N=4, F=1056`` on ImageNet), or as ``C``, the first stage's
    channels per block; neither gives ``C=16``. ``num_classes`` defaults to the dataset's (10, 1000).
    ``auxiliary`` adds the auxiliary head (its logits in training mode only).

    >>> net = build_network("nasnet-a", N=4, F=1056, dataset="imagenet")
    >>> net.config.C, sum(p.numel() for p in net.parameters())
    (44, 5287076)

    A NAS-Bench-201 cell gives the benchmark's network: ``N`` cells in each of its 3 stages at
    ``C``, ``2C``, ``4C`` channels (the benchmark's is ``N=5, C=16``), on 32x32 CIFAR images, without
    an auxiliary head; ``F`` and ``dataset="imagenet"`` are refused.

    >>> best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    >>> net = build_network(best, N=5, C=16)  # the table's best CIFAR-10 cell (94.37% after 200 epochs)
    >>> sum(p.numel() for p in net.parameters())  # 1.07M, as xautodl's builder counts it
    1073466
    """
    if C is not None and F is not None:
        raise ConfigError("give the width as C or as F, not both")
    if not isinstance(genotype, Genotype | Nb201Genotype):
        genotype = load_genotype(genotype)
    if isinstance(genotype, Nb201Genotype) and F is not None:
        raise ConfigError("F: a NAS-Bench-201 network is sized by N and C")
    fields: dict[str, Any] = {"dataset": dataset, "N": N, "num_classes": num_classes, "auxiliary": auxiliary}
    if F is not None:
        assert isinstance(genotype, Genotype)
        return build_any_network(genotype, NetworkConfig.from_filters(genotype, F, **fields))
    if C is not None:
        fields["C"] = C
    return build_any_network(genotype, NetworkConfig(**fields))


def load_checkpoint(path: str | Path, *, auxiliary: bool | None = None) -> AnyNetwork:
    """The trained network in ``path``, in eval mode, its weights loaded with ``weights_only=True``.

    ``path``: a checkpoint file (``model.pt``, a transfer's ``state.pt``) or the run folder that holds
    one (``nas train --out``, ``nas transfer --out``: its latest epoch). The genotype and config come
    from the file; for a bare ``state_dict`` saved by an older version, from the run's
    ``result.json``. ``auxiliary=False`` leaves out the auxiliary head; by default it is kept as trained.
    """
    return _saved_network(Path(path)).build(auxiliary=auxiliary)


def export(path: str | Path, *, format: str = "pt2", out: str | Path | None = None) -> Path:
    """Export the trained network in ``path`` (as `load_checkpoint` takes it) as a ``pt2`` program
    (`torch.export`) or an ``onnx`` model, logits only; return the file written.

    ``out`` defaults to ``model.<format>`` in the run folder, or beside the checkpoint file. Load the
    result without this package: ``torch.export.load(file).module()(images)`` or
    ``onnxruntime.InferenceSession(file).run(None, {"images": images})``.
    """
    return export_saved(Path(path), format=format, out=None if out is None else Path(out))[0]


def export_saved(path: Path, *, format: str, out: Path | None) -> tuple[Path, SavedNetwork]:
    """`export`, also returning what the checkpoint held (for `nas export`'s summary)."""
    check_format(format)
    saved = _saved_network(path)
    network = saved.build(auxiliary=False)
    assert network.config.image_size is not None  # NetworkConfig fills it in
    target = out or export_path(path, format)
    return export_network(network, target, format=format, image_size=network.config.image_size), saved


def export_path(path: Path, format: str) -> Path:
    """Where `export` writes by default: ``model.<format>`` in the run folder or beside the file."""
    return (path if path.is_dir() else path.parent) / f"model.{format}"


def checkpoint_file(path: Path) -> Path:
    """The checkpoint a path names: the file itself, or the one in a train or transfer run folder."""
    if not path.exists():
        raise DataError(f"{path}: no such checkpoint file or run folder")
    if not path.is_dir():
        return path
    if (path / TRAIN_CHECKPOINT).is_file():
        return path / TRAIN_CHECKPOINT
    epochs = sorted(path.glob(TRANSFER_CHECKPOINTS)) or sorted(path.glob("state.pt"))
    if not epochs and (path / SEARCH_LEADERBOARD).is_file():
        raise DataError(
            f"{path}: a search's run folder holds genotypes, not trained weights; train its best cell "
            f"first (nas train {path} --like {path}, or nas transfer), then export that folder"
        )
    if not epochs:
        raise DataError(
            f"{path}: no trained network here (expected {TRAIN_CHECKPOINT} or {TRANSFER_CHECKPOINTS}: "
            "the folder of `nas train --out` or `nas transfer --out`, or a checkpoint file)"
        )
    return epochs[-1]


def _saved_network(path: Path) -> SavedNetwork:
    file = checkpoint_file(path)
    saved = read_network_state(file)
    if saved.genotype is not None:
        return saved
    for folder in list(file.parents)[:_RESULT_SEARCH_DEPTH]:
        if (folder / RESULT_FILE).is_file():
            return _with_result_metadata(saved, folder / RESULT_FILE)
    raise DataError(f"{file}: weights without their genotype and config, and no {RESULT_FILE} beside them")


def _with_result_metadata(saved: SavedNetwork, result: Path) -> SavedNetwork:
    """An older bare ``state_dict`` with the genotype and config its run recorded (`nas train`'s
    ``result.json`` holds them at the top, `nas transfer`'s under ``config``)."""
    try:
        record = json.loads(result.read_text(encoding="utf-8"))
        found = record.get("config", record) if "genotype" not in record else record
        genotype = genotype_from_data(found["genotype"])
        config = NetworkConfig(**found["network"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{result}: no genotype and network config ({first_line(exc, limit=200)})") from None
    return SavedNetwork(saved.state_dict, genotype, config)
