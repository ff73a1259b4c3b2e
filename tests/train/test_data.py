"""nas.train.data on the real CIFAR-10 subset: safe reading, seeded splits, on-device augmentation."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.errors import ConfigError, DataError
from nas.train.data import (
    BATCHES_DIR,
    TEST_FILE,
    TRAIN_FILES,
    AugmentedBatches,
    Split,
    load_cifar10,
    normalize,
    read_batch,
    resolve_cifar_dir,
)

SUBSET_PER_FILE = 1017  # the shared subset keeps 1,017 images of each official batch file


def test_reads_the_subset(cifar_dir: Path) -> None:
    data = load_cifar10(cifar_dir, with_test=True)
    n_train = len(TRAIN_FILES) * SUBSET_PER_FILE
    assert len(data.train) + len(data.val) == n_train == 5085
    assert len(data.val) == 508  # NASNet's 5,000 capped at a tenth of a subset
    assert data.test is not None and len(data.test) == SUBSET_PER_FILE
    for split in (data.train, data.val, data.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert split.labels.dtype == torch.int64 and split.labels.shape == (len(split),)
        assert int(split.labels.min()) >= 0 and int(split.labels.max()) == 9
    both = torch.cat([data.train_indices, data.val_indices])
    assert torch.equal(both.sort().values, torch.arange(n_train))  # disjoint, nothing lost
    assert data.summary() == {"split_seed": 0, "train_size": 4577, "val_size": 508, "test_size": 1017}


def test_split_is_seeded_and_sized(cifar_dir: Path) -> None:
    a = load_cifar10(cifar_dir, train_size=300, val_size=100, split_seed=7)
    b = load_cifar10(cifar_dir, train_size=300, val_size=100, split_seed=7)
    c = load_cifar10(cifar_dir, train_size=300, val_size=100, split_seed=8)
    assert (len(a.train), len(a.val), a.test) == (300, 100, None)
    assert torch.equal(a.val_indices, b.val_indices) and torch.equal(a.train.images, b.train.images)
    assert not torch.equal(a.val_indices, c.val_indices)
    with pytest.raises(ConfigError, match="val_size"):
        load_cifar10(cifar_dir, val_size=5085)
    with pytest.raises(ConfigError, match="train_size"):
        load_cifar10(cifar_dir, val_size=100, train_size=5000)


def test_finds_the_folder_or_its_parent_or_env(cifar_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = resolve_cifar_dir(cifar_dir)
    assert batches.name == BATCHES_DIR or (batches / TEST_FILE).is_file()
    assert resolve_cifar_dir(batches) == batches
    monkeypatch.setenv("NAS_DATA_DIR", str(batches.parent))
    assert resolve_cifar_dir() == batches


def test_missing_dir_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=r"nowhere.*--download"):
        load_cifar10(missing)
    monkeypatch.delenv("NAS_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="--data-dir"):
        load_cifar10()


def _fake_dir(tmp_path: Path, first_batch: bytes) -> Path:
    folder = tmp_path / BATCHES_DIR
    folder.mkdir()
    (folder / TRAIN_FILES[0]).write_bytes(first_batch)
    return folder


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda real: real[:5000], id="truncated"),
        pytest.param(lambda real: b"\x00garbage" * 100, id="garbage"),
        pytest.param(lambda real: pickle.dumps([1, 2, 3], protocol=2), id="not-a-dict"),
        pytest.param(
            lambda real: pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, 4),
            id="float-data",
        ),
        pytest.param(
            lambda real: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, 4),
            id="bad-label",
        ),
    ],
)
def test_rejects_corrupt_files(cifar_dir: Path, tmp_path: Path, content: Callable[[bytes], bytes]) -> None:
    real = (resolve_cifar_dir(cifar_dir) / TRAIN_FILES[0]).read_bytes()
    folder = _fake_dir(tmp_path, content(real))
    with pytest.raises(DataError, match=f"{TRAIN_FILES[0]}: corrupt"):
        load_cifar10(folder)


def test_missing_batch_file_is_a_data_error(cifar_dir: Path, tmp_path: Path) -> None:
    folder = _fake_dir(tmp_path, (resolve_cifar_dir(cifar_dir) / TRAIN_FILES[0]).read_bytes())
    with pytest.raises(DataError, match=f"{TRAIN_FILES[1]}: missing"):
        load_cifar10(folder)


@pytest.mark.parametrize("module", ["posix", "os", "subprocess"])
def test_refuses_pickles_that_would_run_code(tmp_path: Path, module: str) -> None:
    marker = tmp_path / "pwned"
    call = "system" if module != "subprocess" else "getoutput"
    # Protocol 0 by hand: ``module.call("touch marker")`` -- what a malicious "batch file" looks like.
    payload = f"c{module}\n{call}\n(Vtouch {marker}\ntR.".encode()
    folder = _fake_dir(tmp_path, payload)
    with pytest.raises(DataError, match=f"refusing to unpickle {module}.{call}"):
        read_batch(folder / TRAIN_FILES[0])
    assert not marker.exists()


def test_safe_reader_matches_plain_pickle(cifar_dir: Path) -> None:
    path = resolve_cifar_dir(cifar_dir) / TEST_FILE
    images, labels = read_batch(path)
    with path.open("rb") as f:
        reference = pickle.load(f, encoding="bytes")  # trusted here: the shared test data
    assert np.array_equal(images.reshape(len(images), -1), reference[b"data"])
    assert labels.tolist() == reference[b"labels"]


def test_normalize_is_standardizing(cifar_dir: Path) -> None:
    images = load_cifar10(cifar_dir).train.images
    x = normalize(images)
    per_channel = x.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=0.05)
    assert torch.allclose(per_channel.std(1), torch.ones(3), atol=0.05)
    assert normalize(images[:4], channels_last=True).is_contiguous(memory_format=torch.channels_last)


def _loader(split: Split, seed: int, *, cutout: int = 0, channels_last: bool = False) -> AugmentedBatches:
    generator = torch.Generator().manual_seed(seed)
    return AugmentedBatches(
        split, batch_size=64, generator=generator, cutout=cutout, channels_last=channels_last
    )


def test_augmentation_is_a_crop_or_flip_of_the_padded_image(cifar_dir: Path) -> None:
    split = load_cifar10(cifar_dir, train_size=64, val_size=64).train
    out = _loader(split, 0).augment(torch.arange(8))
    padded = torch.nn.functional.pad(split.images[:8], (4, 4, 4, 4))
    for i in range(8):
        candidates = [
            normalize(view[None])[0]
            for dy in range(9)
            for dx in range(9)
            for crop in [padded[i, :, dy : dy + 32, dx : dx + 32]]
            for view in (crop, crop.flip(-1))
        ]
        assert any(torch.equal(out[i], c) for c in candidates), f"image {i} is no crop/flip"


@pytest.mark.parametrize(("cutout", "channels_last"), [(0, False), (16, False), (0, True)])
def test_augmentation_is_per_image_random_and_seeded(
    cifar_dir: Path, cutout: int, channels_last: bool
) -> None:
    split = load_cifar10(cifar_dir, train_size=64, val_size=64).train
    same = torch.zeros(64, dtype=torch.int64)  # one image 64 times: only the augmentation differs
    out = _loader(split, 1, cutout=cutout, channels_last=channels_last).augment(same)
    assert out.shape == (64, 3, 32, 32) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    assert len({t.numpy().tobytes() for t in out}) > 40, "augmentations repeat across the batch"
    again = _loader(split, 1, cutout=cutout, channels_last=channels_last).augment(same)
    other = _loader(split, 2, cutout=cutout, channels_last=channels_last).augment(same)
    assert torch.equal(out, again) and not torch.equal(out, other)


def test_cutout_zeroes_one_square_per_image(cifar_dir: Path) -> None:
    split = load_cifar10(cifar_dir, train_size=64, val_size=64).train
    out = _loader(split, 3, cutout=16).augment(torch.arange(64))
    zeros = (out == 0).all(dim=1).sum(dim=(1, 2))  # pixels zero in every channel
    assert int(zeros.min()) >= 8 * 8 and int(zeros.max()) == 16 * 16  # clipped at borders, else 16x16


def test_an_epoch_visits_each_image_once_with_its_label() -> None:
    n = 200  # image i is constant i, label i % 10: a batch can be traced back to its sources
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 32, 32).contiguous()
    split = Split(images, torch.arange(n) % 10)
    loader = AugmentedBatches(split, batch_size=32, generator=torch.Generator().manual_seed(0), padding=0)
    assert len(loader) == n // 32
    seen: list[int] = []
    for x, y in loader:
        centre = x[:, 0, 16, 16] * 0.2470 + 0.4914  # undo normalization of the red channel
        index = torch.round(centre * 255).long()
        assert torch.equal(index % 10, y)
        seen += index.tolist()
    assert len(seen) == len(set(seen)) == len(loader) * 32
    with pytest.raises(ConfigError, match="batch_size"):
        AugmentedBatches(split, batch_size=n + 1, generator=torch.Generator())


def test_download_is_only_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr("nas.train.data.download_cifar10", lambda root: calls.append(str(root)))
    with pytest.raises(DataError):
        load_cifar10(tmp_path)
    assert calls == []
    with pytest.raises(DataError):  # the (stubbed) download leaves nothing behind
        load_cifar10(tmp_path, download=True)
    assert calls == [str(tmp_path)]


def test_ensure_finds_present_data_and_names_a_missing_folder_offline(
    cifar_dir: Path, tmp_path: Path
) -> None:
    """Present batches are used as they are; a missing folder, with the download host unreachable
    (this machine has no internet), is a one-line `DataError` naming it, at once."""
    from nas.train.data import _download_reachable, ensure_cifar10

    assert ensure_cifar10(cifar_dir, download=False) == resolve_cifar_dir(cifar_dir)
    if _download_reachable():
        pytest.skip("the CIFAR-10 host is reachable from here: a missing folder would be downloaded")
    with pytest.raises(DataError, match=str(tmp_path / "absent")) as info:
        ensure_cifar10(tmp_path / "absent", download=False)
    assert "--download" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "absent").exists()
