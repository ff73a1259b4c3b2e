"""CIFAR-10 for child training: a safe reader, the papers' splits, and an on-device batch loader.

Why not torchvision's ``CIFAR10`` dataset and a ``DataLoader``: a proxy child is small, so feeding it
(PIL per image, worker processes, host-to-device copies) costs as much as training it. Here the whole
uint8 dataset is one tensor on the training device and each batch is cut out of it with a single
gather that does random crop and horizontal flip for every image at once, followed by a fused
normalization (and, optionally, cutout). torchvision is used only for ``--download``.

Splits follow NASNet (Zoph et al. 2018, Sec. 4): the search's reward is accuracy on images held out
of the *training* batches (5,000 of 50,000 there), seeded; the test batch is for the final evaluation
of a found cell only, and a search never needs to load it.

The batch files are Python pickles. Loading an arbitrary pickle runs arbitrary code, so the reader
admits only the numpy globals these files reference and refuses everything else with `DataError`.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

ENV_VAR = "NAS_DATA_DIR"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
NUM_CLASSES = 10
IMAGE_SHAPE = (3, 32, 32)
NASNET_VAL_SIZE = 5000  # held out of the 50,000 training images (Zoph et al. 2018, Sec. 4)

# Per-channel statistics of the CIFAR-10 training set (the values DARTS and timm use).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_HOW_TO_GET = (
    f"pass --download (with network access) to fetch it, or point --data-dir / {ENV_VAR} at the folder "
    f"holding {BATCHES_DIR}"
)

# numpy pickles arrays as ``_reconstruct(ndarray, shape, dtype)`` plus state. The function lives in
# ``numpy.core.multiarray`` (numpy 1, which wrote the official files) or ``numpy._core.multiarray``
# (numpy 2); taking it from ``ndarray.__reduce__`` avoids importing numpy's deprecated alias.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR batch file needs (see `_ALLOWED_GLOBALS`)."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the files are Python 2 pickles with bytes keys
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._path}: refusing to unpickle {module}.{name}; a CIFAR-10 batch holds only "
                "numpy arrays and lists, so this file is not one"
            ) from None


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one official CIFAR-10 batch file: uint8 images (n, 3, 32, 32) and int64 labels (n,)."""
    try:
        with path.open("rb") as f:
            raw = _BatchUnpickler(f, path).load()
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: missing CIFAR-10 batch file; {_HOW_TO_GET}") from None
    except Exception as exc:  # unpickling junk can raise almost any exception type
        raise DataError(f"{path}: corrupt CIFAR-10 batch file ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: corrupt CIFAR-10 batch file (expected a dict, got {type(raw).__name__})")
    data, labels = raw.get(b"data"), raw.get(b"labels")
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise DataError(f"{path}: corrupt CIFAR-10 batch file ('data' is not a uint8 matrix)")
    if data.shape[1] != int(np.prod(IMAGE_SHAPE)) or not isinstance(labels, list):
        raise DataError(f"{path}: corrupt CIFAR-10 batch file (bad 'data' width or 'labels')")
    targets = np.asarray(labels, dtype=np.int64)
    if targets.shape != (data.shape[0],):
        raise DataError(f"{path}: corrupt CIFAR-10 batch file ({len(labels)} labels for {len(data)} images)")
    if targets.min(initial=0) < 0 or targets.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"{path}: corrupt CIFAR-10 batch file (labels outside 0..{NUM_CLASSES - 1})")
    return data.reshape(-1, *IMAGE_SHAPE), targets


def resolve_cifar_dir(data_dir: str | Path | None = None) -> Path:
    """The folder holding the batch files, from ``data_dir`` or ``$NAS_DATA_DIR``; it or its parent."""
    raw = data_dir if data_dir is not None else os.environ.get(ENV_VAR)
    if not raw:
        raise DataError(f"no CIFAR-10 directory given; {_HOW_TO_GET}")
    root = Path(raw).expanduser()
    for candidate in (root / BATCHES_DIR, root):
        if (candidate / TRAIN_FILES[0]).is_file():
            return candidate
    raise DataError(f"{root}: no CIFAR-10 batch files there (expected {BATCHES_DIR}/); {_HOW_TO_GET}")


def default_cifar_dir() -> Path:
    """Where CIFAR-10 lives when no folder is given: ``$XDG_CACHE_HOME/nas/cifar10`` (~/.cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nas" / "cifar10"


def _download_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the CIFAR-10 host answers: a TCP connect, so a machine offline learns it at once."""
    from urllib.parse import urlparse

    from torchvision.datasets import CIFAR10

    host = urlparse(CIFAR10.url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_cifar10(data_dir: str | Path | None, *, download: bool) -> Path:
    """The CIFAR-10 batches folder, downloaded first if needed: always with ``download``, else when
    the folder (``data_dir``, ``$NAS_DATA_DIR`` or `default_cifar_dir`) lacks them and the download
    host is reachable. Otherwise a `DataError` naming the folder and how to get the data."""
    raw = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or default_cifar_dir()
    try:
        return resolve_cifar_dir(raw)
    except DataError:
        if not download and not _download_reachable():
            raise
    logger.warning("CIFAR-10 not found in %s: downloading it there (about 170 MB)", raw)
    download_cifar10(raw)
    return resolve_cifar_dir(raw)


def download_cifar10(root: str | Path) -> Path:
    """Fetch the official archive into ``root`` with torchvision (only when the user asks)."""
    import torchvision  # deferred: only --download needs it

    root = Path(root).expanduser()
    logger.info("downloading CIFAR-10 into %s", root)
    try:
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    except (OSError, RuntimeError) as exc:
        raise DataError(f"{root}: CIFAR-10 download failed ({exc})") from None
    return root / BATCHES_DIR


@dataclass(frozen=True)
class Split:
    """Images (n, 3, 32, 32) uint8 and labels (n,) int64, on one device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class CifarData:
    """Train and validation splits of the training batches (seeded), and the test batch if loaded.

    ``train_indices`` and ``val_indices`` index the concatenated training batches (on the CPU), so a
    result can name exactly which images its reward was measured on.
    """

    train: Split
    val: Split
    test: Split | None
    split_seed: int
    train_indices: torch.Tensor
    val_indices: torch.Tensor

    def to(self, device: torch.device) -> CifarData:
        """The same data on ``device`` (no copy when it is there already)."""
        test = self.test.to(device) if self.test is not None else None
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=test)

    def summary(self) -> dict[str, int]:
        """Seed and sizes: with the data folder, enough to rebuild the split."""
        return {
            "split_seed": self.split_seed,
            "train_size": len(self.train),
            "val_size": len(self.val),
            "test_size": len(self.test) if self.test is not None else 0,
        }


def load_cifar10(
    data_dir: str | Path | None = None,
    *,
    val_size: int | None = None,
    train_size: int | None = None,
    split_seed: int = 0,
    with_test: bool = False,
    download: bool = False,
) -> CifarData:
    """Load CIFAR-10 and split the training batches into train and validation images (on the CPU).

    ``val_size`` defaults to NASNet's 5,000, capped at a tenth of the training images (NASNet's
    ratio) so a subset keeps most images for training. ``train_size`` takes that many of the rest
    (default: all). ``with_test`` also loads the test batch, for a final evaluation only. Missing
    files are downloaded as `ensure_cifar10` says.
    """
    folder = ensure_cifar10(data_dir, download=download)
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    n = len(labels)
    val_n = min(NASNET_VAL_SIZE, n // 10) if val_size is None else val_size
    if not 1 <= val_n < n:
        raise ConfigError(f"val_size: {val_n} out of range 1..{n - 1} for {n} training images")
    train_n = n - val_n if train_size is None else train_size
    if not 1 <= train_n <= n - val_n:
        raise ConfigError(f"train_size: {train_n} out of range 1..{n - val_n} ({n} images, {val_n} held out)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = order[:val_n], order[val_n : val_n + train_n]
    all_images, all_labels = torch.from_numpy(images), torch.from_numpy(labels)
    test = None
    if with_test:
        test_images, test_labels = read_batch(folder / TEST_FILE)
        test = Split(torch.from_numpy(test_images), torch.from_numpy(test_labels))
    data = CifarData(
        train=Split(all_images[train_idx], all_labels[train_idx]),
        val=Split(all_images[val_idx], all_labels[val_idx]),
        test=test,
        split_seed=split_seed,
        train_indices=train_idx,
        val_indices=val_idx,
    )
    logger.info("CIFAR-10 from %s: %s", folder, data.summary())
    return data


def normalize(images: torch.Tensor, *, channels_last: bool = False) -> torch.Tensor:
    """uint8 NCHW images -> float32 normalized with the CIFAR-10 mean and std, in one fused pass."""
    scale, shift = _affine(images.device)
    out = torch.addcmul(shift, images.float(), scale)  # (x / 255 - mean) / std == x * scale + shift
    return out.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


@functools.lru_cache(maxsize=8)
def _affine(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)
    return 1.0 / (255.0 * std), -mean / std


class AugmentedBatches:
    """One epoch of shuffled, augmented training batches per iteration, computed on the data's device.

    Augmentation is the standard CIFAR recipe (He et al. 2016; NASNet, DARTS): random 32x32 crop of
    the image zero-padded by ``padding`` pixels, horizontal flip with probability 1/2, and optionally
    cutout (DeVries & Taylor 2017: one ``cutout``-pixel square per image, centre anywhere, zeroed
    after normalization). Every image draws its own offsets, flip and square from ``generator``, so
    a seed fixes the whole stream. The last incomplete batch is dropped (a batch of one breaks
    batch norm, and equal batches keep the cosine schedule's step count exact).
    """

    def __init__(
        self,
        split: Split,
        *,
        batch_size: int,
        generator: torch.Generator,
        padding: int = 4,
        cutout: int = 0,
        channels_last: bool = False,
    ) -> None:
        if not 1 <= batch_size <= len(split):
            raise ConfigError(f"batch_size: {batch_size} out of range 1..{len(split)} (the training split)")
        self.split = split
        self.batch_size = batch_size
        self.generator = generator
        self.padding = padding
        self.cutout = cutout
        self.channels_last = channels_last
        # Pad once per loader and keep it NHWC: one batch is then a single gather of contiguous pixels,
        # and the NHWC result, viewed as NCHW, is already in channels_last layout.
        p = padding
        self._padded = torch.nn.functional.pad(split.images, (p, p, p, p)).permute(0, 2, 3, 1).contiguous()
        self._arange = torch.arange(IMAGE_SHAPE[1], device=split.images.device)

    def __len__(self) -> int:
        return len(self.split) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.split.images.device
        order = torch.randperm(len(self.split), generator=self.generator, device=device)
        for step in range(len(self)):
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield self.augment(idx), self.split.labels[idx]

    def augment(self, idx: torch.Tensor) -> torch.Tensor:
        """Normalized, randomly cropped and flipped (and cut out) float images for ``idx``."""
        b, size, g = idx.numel(), IMAGE_SHAPE[1], self.generator
        _, height, width, _ = self._padded.shape
        dy = torch.randint(0, height - size + 1, (b, 1), generator=g, device=idx.device)
        dx = torch.randint(0, width - size + 1, (b, 1), generator=g, device=idx.device)
        flip = torch.rand(b, 1, generator=g, device=idx.device) < 0.5
        rows = dy + self._arange  # (b, 32)
        cols = dx + torch.where(flip, size - 1 - self._arange, self._arange)  # (b, 32), reversed if flipped
        pixel = (idx.view(b, 1, 1) * height + rows.view(b, size, 1)) * width + cols.view(b, 1, size)
        nhwc = self._padded.view(-1, IMAGE_SHAPE[0])[pixel.view(-1)].view(b, size, size, IMAGE_SHAPE[0])
        x = normalize(nhwc.permute(0, 3, 1, 2), channels_last=self.channels_last)
        if self.cutout > 0:
            x = x * self._cutout_mask(b, idx.device).to(x.dtype)
        return x

    def _cutout_mask(self, b: int, device: torch.device) -> torch.Tensor:
        """(b, 1, 32, 32) mask, 0 inside each image's square (clipped at the border), 1 elsewhere."""
        size, half = IMAGE_SHAPE[1], self.cutout // 2
        centre = torch.randint(0, size, (2, b, 1), generator=self.generator, device=device)
        inside_rows = (self._arange >= centre[0] - half) & (self._arange < centre[0] + half)  # (b, 32)
        inside_cols = (self._arange >= centre[1] - half) & (self._arange < centre[1] + half)
        return ~(inside_rows.view(b, 1, size, 1) & inside_cols.view(b, 1, 1, size))
