"""The NAS-Bench-201 table: every row a valid cell, lookups, and one-line errors for bad files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nas.space.nb201 import Nb201Genotype
from nas.space.nb201_table import (
    COLUMNS,
    BenchmarkColumnsError,
    BenchmarkError,
    BenchmarkFileMissing,
    BenchmarkFileUnreadable,
    CellNotInTable,
    load_table,
)

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_every_cell_parses_and_round_trips(nb201_table_path: Path) -> None:
    table = load_table(nb201_table_path)
    assert len(table) == 15_625
    for arch in table.rows:
        assert Nb201Genotype.from_arch(arch).arch == arch
    assert load_table(nb201_table_path) is table  # read once


def test_lookup(nb201_table_path: Path) -> None:
    table = load_table(nb201_table_path)
    assert table.accuracy(ARCH) == pytest.approx(93.66, abs=0.01)  # the file's second line
    assert table.accuracy(Nb201Genotype.from_arch(ARCH), "cifar100") == pytest.approx(70.29, abs=0.01)
    assert table.accuracy(ARCH, "imagenet16-120") == pytest.approx(44.03, abs=0.01)
    assert table.best() == (BEST, pytest.approx(94.37, abs=0.01))  # the optimum the README names
    with pytest.raises(BenchmarkError, match="unknown benchmark dataset 'svhn'"):
        table.accuracy(ARCH, "svhn")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_error_cases(tmp_path: Path) -> None:
    header = ",".join(COLUMNS) + "\n"
    row = f"93.5,70.1,44.0,{ARCH},x\n"
    cases: list[tuple[type[BenchmarkError], str, Path]] = [
        (BenchmarkFileMissing, "no such file", tmp_path / "missing.csv"),
        (BenchmarkFileUnreadable, "not a file", tmp_path),
        (
            BenchmarkColumnsError,
            "missing column(s) UniqueString",
            _write(tmp_path, header.replace(",UniqueString", "") + row),
        ),
    ]
    for error, message, path in cases:
        with pytest.raises(error, match=re.escape(message)):
            load_table(path)
    bad_value = _write(tmp_path, header + row.replace("93.5", "abc"))
    with pytest.raises(BenchmarkFileUnreadable, match="line 2: CIFAR10TestAccuracy200Epochs is 'abc'"):
        load_table(bad_value)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00" * 10)
    with pytest.raises(BenchmarkFileUnreadable, match=r"bin\.csv"):
        load_table(tmp_path / "bin.csv")
    table = load_table(_write(tmp_path, header + row))
    assert table.accuracy(ARCH) == 93.5
    with pytest.raises(CellNotInTable, match=re.escape("no row for cell '|none~0|")):
        table.accuracy("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "x\n")
    path.chmod(0)
    with pytest.raises(BenchmarkFileUnreadable, match="ermission denied"):
        load_table(path)
