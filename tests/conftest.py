"""Shared fixtures: the real CIFAR-10 subset and tiny genotypes for CPU training tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nas.space.genotype import Block, Cell, Genotype

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CIFAR_DIR = REPO_ROOT.parent / "shared" / "data" / "cifar10"
DEFAULT_NB201_TABLE = REPO_ROOT.parent / "shared" / "data" / "nats-bench" / "nats_bench_tss.csv"


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    """The CIFAR-10 folder from ``$NAS_DATA_DIR``, else ``../shared/data/cifar10``; skip if absent."""
    from nas.errors import DataError
    from nas.train.data import ENV_VAR, resolve_cifar_dir

    path = Path(os.environ.get(ENV_VAR) or DEFAULT_CIFAR_DIR)
    try:
        resolve_cifar_dir(path)
    except DataError as exc:
        pytest.skip(f"needs the CIFAR-10 batches ({exc})")
    return path


@pytest.fixture(scope="session")
def nb201_table_path() -> Path:
    """The NAS-Bench-201 table from ``$NAS_BENCH_TABLE``, else ``../shared/data/nats-bench``; skip if absent."""
    from nas.space.nb201_table import ENV_VAR

    path = Path(os.environ.get(ENV_VAR) or DEFAULT_NB201_TABLE)
    if not path.is_file():
        pytest.skip(f"needs the NAS-Bench-201 table ({path}: no such file; set ${ENV_VAR})")
    return path


@pytest.fixture(scope="session")
def tiny_genotype() -> Genotype:
    """Two blocks per cell of cheap ops: trains in seconds on a CPU at C=8."""
    normal = Cell(
        blocks=(
            Block(input_a=0, input_b=1, op_a="conv_3x3", op_b="skip_connect"),
            Block(input_a=2, input_b=1, op_a="sep_conv_3x3", op_b="avg_pool_3x3"),
        )
    )
    reduce = Cell(
        blocks=(
            Block(input_a=0, input_b=1, op_a="max_pool_3x3", op_b="conv_3x3"),
            Block(input_a=2, input_b=1, op_a="skip_connect", op_b="avg_pool_3x3"),
        )
    )
    return Genotype(normal=normal, reduce=reduce, name="tiny")


def pytest_configure(config: pytest.Config) -> None:
    """On a pytest-xdist worker (the README's ``-n 2``), torch computes on one thread, in the worker
    and in the commands its tests start (``OMP_NUM_THREADS``, unless set): two workers of two OpenMP
    threads each on two cores spin against each other. Measured: ``bench/zero_cost.py --quick`` beside
    two one-thread torch loops took 66-71 s on two threads and 17 s on one (11 s idle). The children
    Ray starts get one thread per CPU they are given anyway, and a supernet task sets its own."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Per-test timeouts sized to the test (pytest-timeout), unless a test sets its own.

    A unit test that takes minutes has hung; an end-to-end test (``slow``: it starts Ray or trains
    for more than a few seconds) gets room for a loaded 2-core machine. The global 600 s in
    pyproject.toml stays as the outer bound.
    """
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(420 if item.get_closest_marker("slow") else 120))
