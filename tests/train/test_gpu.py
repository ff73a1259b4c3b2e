"""The CUDA path of child training, on a real GPU (skipped without one; `bench/gpu_check.sh` runs them).

What a search on GPUs relies on: a child trains under bf16 autocast in channels_last and learns; a
child that runs out of GPU memory is a failed row with its reason, its memory is freed, and the next
child trains; and a seed makes a child reproducible as far as CUDA allows. That last point, stated:
with the trainer's defaults (cudnn autotuning, bf16, atomics in some backward kernels) two runs of a
seed start from the same weights and see the same batches, but their accuracies agree only within a
tolerance; under ``torch.use_deterministic_algorithms`` in fp32 they agree exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from nas.model.network import NetworkConfig
from nas.space.genotype import Block, Cell, Genotype
from nas.train.data import CifarData, load_cifar10
from nas.train.trainer import TrainConfig, train_child

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

CHANCE = 0.1
PROXY = TrainConfig(epochs=3, batch_size=64, lr=0.1, device="cuda", seed=0, amp=True)  # bf16 on purpose
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(cifar_dir: Path) -> CifarData:
    return load_cifar10(cifar_dir, train_size=4096, val_size=512)


@pytest.fixture
def conv_outputs() -> Iterator[list[tuple[torch.dtype, bool]]]:
    """(dtype, is channels_last) of every Conv2d output while the test runs: how the child really ran."""
    seen: list[tuple[torch.dtype, bool]] = []

    def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, torch.nn.Conv2d) and module.training and output.is_cuda and output.dim() == 4:
            seen.append((output.dtype, output.is_contiguous(memory_format=torch.channels_last)))

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    yield seen
    handle.remove()


def test_child_trains_in_bf16_channels_last_and_beats_chance(
    tiny_genotype: Genotype, data: CifarData, conv_outputs: list[tuple[torch.dtype, bool]]
) -> None:
    result = train_child(tiny_genotype, NetworkConfig(N=1, C=16), PROXY, data)
    assert result.status == "completed", result.error
    assert result.val_accuracy is not None and result.val_accuracy > 2 * CHANCE
    assert result.images_per_s is not None and result.images_per_s > 0
    assert conv_outputs and all(dtype == torch.bfloat16 for dtype, _ in conv_outputs)
    assert sum(last for _, last in conv_outputs) / len(conv_outputs) > 0.9


def test_out_of_memory_child_is_a_failed_row_and_the_next_child_trains(
    tiny_genotype: Genotype, data: CifarData
) -> None:
    # Cap this process's share of the GPU at about 2 GiB, so that a wide child (its stem's output alone
    # is 3 GiB in bf16 at batch 2048) runs out of memory quickly whatever the card's size; the cap is
    # the caching allocator's, which raises the same OutOfMemoryError as a full card.
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, 2 * 2**30 / total))
    try:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        wide = train_child(
            tiny_genotype,
            NetworkConfig(N=2, C=256),
            TrainConfig(epochs=1, batch_size=2048, device="cuda"),
            data,
        )
        assert wide.status == "failed"
        assert wide.error is not None and "OutOfMemoryError" in wide.error, wide.error
        assert torch.cuda.memory_allocated() - before < 64 * 2**20  # the failed child's memory is freed
        small = train_child(tiny_genotype, NetworkConfig(N=1, C=8), PROXY, data)
        assert small.status == "completed", small.error
        assert small.val_accuracy is not None and small.val_accuracy > CHANCE
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)


def test_seeded_children_agree_within_tolerance_with_the_fast_defaults(
    tiny_genotype: Genotype, data: CifarData
) -> None:
    config = TrainConfig(epochs=2, batch_size=64, lr=0.1, device="cuda", seed=3)
    first, second = (train_child(tiny_genotype, NetworkConfig(N=1, C=8), config, data) for _ in range(2))
    assert first.status == second.status == "completed"
    assert first.val_accuracy is not None and second.val_accuracy is not None
    assert abs(first.val_accuracy - second.val_accuracy) <= 0.03  # 15 of 512 images


_DETERMINISTIC = """
import json, sys, torch
torch.use_deterministic_algorithms(True, warn_only=True)
from nas.model.network import NetworkConfig
from nas.space.genotype import Genotype
from nas.train.data import load_cifar10
from nas.train.trainer import TrainConfig, train_child
genotype = Genotype.from_dict(json.loads(sys.argv[2]))
data = load_cifar10(sys.argv[1], train_size=2048, val_size=512)
config = TrainConfig(epochs=2, batch_size=64, lr=0.1, device="cuda", seed=3, amp=False)
runs = [train_child(genotype, NetworkConfig(N=1, C=8), config, data) for _ in range(2)]
print(json.dumps([[r.status, list(r.val_accuracy_history), r.error] for r in runs]))
"""


def test_seeded_children_agree_exactly_under_deterministic_algorithms(cifar_dir: Path) -> None:
    # No max pooling: its CUDA backward uses atomics and has no deterministic implementation.
    cell = Cell(
        blocks=(
            Block(input_a=0, input_b=1, op_a="conv_3x3", op_b="skip_connect"),
            Block(input_a=2, input_b=1, op_a="sep_conv_3x3", op_b="avg_pool_3x3"),
        )
    )
    genotype = Genotype(normal=cell, reduce=cell, name="deterministic")
    env = os.environ | {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "PYTHONPATH": str(REPO_ROOT)}
    env["PYTHONPATH"] += os.pathsep + os.environ.get("PYTHONPATH", "")
    import json

    done = subprocess.run(
        [sys.executable, "-c", _DETERMINISTIC, str(cifar_dir), json.dumps(genotype.to_dict())],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    (status_a, history_a, error_a), (status_b, history_b, _) = json.loads(done.stdout.splitlines()[-1])
    assert status_a == status_b == "completed", error_a
    assert history_a == history_b
