"""ImageNet-style data for transfer training: an ``ImageFolder`` tree read through torchvision.

The layout is torchvision's (``train/<class>/*.jpg``, ``val/<class>/*.jpg``), so the official ILSVRC
2012 tree works once ``val`` is sorted into class folders. Augmentation is the standard ImageNet
recipe (Szegedy et al. 2015; He et al. 2016) that DARTS and PNAS use for their mobile transfers:
``RandomResizedCrop`` and a horizontal flip for training, and for evaluation a resize to
``size * 256 / 224`` followed by a centre crop. Deviation from NASNet (Zoph et al. 2018, Appendix A):
its Inception preprocessing also jitters colour; we leave that out, like DARTS.

Images are decoded straight to uint8 tensors by ``torchvision.io.decode_image`` (libjpeg-turbo; no
PIL round trip) and transformed with the ``transforms.v2`` tensor kernels. Sharding across workers
(a ``DistributedSampler``) is added by Ray Train's ``prepare_data_loader`` in `nas.transfer.ray_train`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from nas.errors import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_RESIZE_RATIO = 256 / 224  # resize, then centre-crop to the training size (He et al. 2016)


def check_image_folder(root: str | Path) -> Path:
    """``root`` as a Path when it holds ``train/`` and ``val/`` folders, else a one-line `DataError`."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{path}: data directory not found (expected train/<class>/*.jpg and val/<class>/*.jpg)"
        )
    missing = [split for split in SPLITS if not (path / split).is_dir()]
    if missing:
        raise DataError(f"{path}: no {' or '.join(missing)} folder inside (expected an ImageFolder tree)")
    return path


def class_names(root: str | Path) -> list[str]:
    """The class folders of ``root/train``, sorted as ``ImageFolder`` numbers them."""
    folder = check_image_folder(root) / "train"
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())


def read_rgb(path: str) -> torch.Tensor:
    """uint8 CHW RGB tensor of one image file; grey and CMYK JPEGs are converted, as ImageNet has both."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    image: torch.Tensor = decode_image(read_file(path), mode=ImageReadMode.RGB)
    return image


def image_folder_loaders(
    root: str | Path, *, image_size: int, batch_size: int, num_workers: int, pin_memory: bool = False
) -> tuple[DataLoader[tuple[torch.Tensor, int]], DataLoader[tuple[torch.Tensor, int]], int]:
    """Training and validation loaders of ``root`` (not yet sharded), and the number of classes.

    The training loader drops its last incomplete batch (a batch of one breaks batch norm, and equal
    steps keep the learning-rate schedule exact); ``num_workers`` decoding processes per loader.
    """
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    folder = check_image_folder(root)
    normalize = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    transforms = {
        "train": v2.Compose(
            [v2.RandomResizedCrop(image_size, antialias=True), v2.RandomHorizontalFlip(), *normalize]
        ),
        "val": v2.Compose(
            [
                v2.Resize(round(image_size * EVAL_RESIZE_RATIO), antialias=True),
                v2.CenterCrop(image_size),
                *normalize,
            ]
        ),
    }
    datasets = {}
    for split in SPLITS:
        try:
            datasets[split] = ImageFolder(str(folder / split), transform=transforms[split], loader=read_rgb)
        except FileNotFoundError as exc:  # no class folders, or a class without images
            raise DataError(f"{folder / split}: {exc}") from None
    if datasets["train"].classes != datasets["val"].classes:
        raise DataError(f"{folder}: train/ and val/ hold different class folders")
    logger.info(
        "ImageFolder %s: %d train, %d val images", folder, len(datasets["train"]), len(datasets["val"])
    )
    common = {"batch_size": batch_size, "num_workers": num_workers, "pin_memory": pin_memory}
    if num_workers > 0:
        common |= {"persistent_workers": True, "prefetch_factor": 4}
    train = DataLoader(datasets["train"], shuffle=True, drop_last=True, **common)  # type: ignore[arg-type]
    val = DataLoader(datasets["val"], shuffle=False, **common)  # type: ignore[arg-type]
    return train, val, len(datasets["train"].classes)
