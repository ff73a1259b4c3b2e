"""The NAS-Bench-201 table: each cell's test accuracy after the benchmark's 200-epoch training.

The benchmark's point (Dong & Yang, ICLR 2020, Sec. 3) is that every one of its 15,625 cells was
trained by its authors, so a search can be scored, or even run, against ground truth. The table read
here is the CSV the ``nats_bench`` API exports (columns in `COLUMNS`; see the README beside the data
file for its origin): 200-epoch test accuracy (%) on CIFAR-10, CIFAR-100 and ImageNet16-120, mean over
the authors' seeds, keyed by arch string. It lives in ``nas.space`` because it is data about cells,
with no network or training in it.

Read with the csv module once per file (about 0.1 s for 15,625 rows) and cached; every failure is a
one-line `BenchmarkError` that says which file and what is wrong. The ``nats_bench`` API's own files
(pickles of per-epoch curves, gigabytes) are not read: the CSV is the subset that fits here, and the
API can export it.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nas.errors import DataError, shown
from nas.space.nb201 import Nb201Genotype

ENV_VAR = "NAS_BENCH_TABLE"
"""Where tests (and users who set it) find the table file."""
ACCURACY_COLUMNS: Mapping[str, str] = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16-120": "ImageNetTestAccuracy200Epochs",
}
"""Dataset -> its column of 200-epoch test accuracy (%)."""
ARCH_COLUMN = "ArchitectureString"
UNIQUE_COLUMN = "UniqueString"
COLUMNS = (*ACCURACY_COLUMNS.values(), ARCH_COLUMN, UNIQUE_COLUMN)


class BenchmarkError(DataError):
    """The benchmark table cannot answer: base of the cases below."""


class BenchmarkFileMissing(BenchmarkError):
    """No file at the given path."""


class BenchmarkFileUnreadable(BenchmarkError):
    """The file exists but cannot be read or parsed as the table (permissions, encoding, a bad row)."""


class BenchmarkColumnsError(BenchmarkError):
    """The file's header lacks a column the table needs (not the NAS-Bench-201 CSV)."""


class CellNotInTable(BenchmarkError):
    """The asked cell is not a row of the table."""


@dataclass(frozen=True)
class Nb201Row:
    """One cell's row: 200-epoch test accuracy (%) per dataset and the table's canonical string."""

    accuracy: Mapping[str, float]
    unique: str


@dataclass(frozen=True)
class Nb201Table:
    """Arch string -> row, read from ``path``."""

    path: Path
    rows: Mapping[str, Nb201Row]

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, cell: Nb201Genotype | str) -> Nb201Row:
        arch = cell.arch if isinstance(cell, Nb201Genotype) else cell
        try:
            return self.rows[arch]
        except KeyError:
            raise CellNotInTable(f"{self.path}: no row for cell {shown(arch, 200)}") from None

    def accuracy(self, cell: Nb201Genotype | str, dataset: str = "cifar10") -> float:
        """The cell's 200-epoch test accuracy (%) on ``dataset`` (cifar10, cifar100, imagenet16-120)."""
        if dataset not in ACCURACY_COLUMNS:
            raise BenchmarkError(
                f"unknown benchmark dataset {shown(dataset)}; known: {', '.join(ACCURACY_COLUMNS)}"
            )
        return self.row(cell).accuracy[dataset]

    def best(self, dataset: str = "cifar10") -> tuple[str, float]:
        """The arch string and accuracy of the table's best cell on ``dataset``."""
        arch = max(self.rows, key=lambda a: self.rows[a].accuracy[dataset])
        return arch, self.rows[arch].accuracy[dataset]


def load_table(path: str | Path) -> Nb201Table:
    """The table in ``path``, read once per file version (path, size, modification time)."""
    p = Path(path).expanduser()
    try:
        stat = p.stat()
    except FileNotFoundError:
        raise BenchmarkFileMissing(f"benchmark table {p}: no such file") from None
    except OSError as exc:
        raise BenchmarkFileUnreadable(f"benchmark table {p}: {exc.strerror or exc}") from None
    if not p.is_file():
        raise BenchmarkFileUnreadable(f"benchmark table {p}: not a file")
    return _read(p.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read(path: Path, size: int, mtime_ns: int) -> Nb201Table:  # size and time: the cache's key
    rows: dict[str, Nb201Row] = {}
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise BenchmarkColumnsError(
                    f"benchmark table {path}: missing column(s) {', '.join(missing)} "
                    f"(expected the NAS-Bench-201 CSV: {', '.join(COLUMNS)})"
                )
            for line, record in enumerate(reader, start=2):
                rows[record[ARCH_COLUMN]] = _row(record, path, line)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchmarkFileUnreadable(f"benchmark table {path}: {exc}") from None
    if not rows:
        raise BenchmarkFileUnreadable(f"benchmark table {path}: no rows")
    return Nb201Table(path, rows)


def _row(record: Mapping[str, str | None], path: Path, line: int) -> Nb201Row:
    accuracy: dict[str, float] = {}
    for dataset, column in ACCURACY_COLUMNS.items():
        text = record.get(column)
        try:
            value = float(text or "")
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 100.0:
            raise BenchmarkFileUnreadable(f"benchmark table {path}, line {line}: {column} is {shown(text)}")
        accuracy[dataset] = value
    return Nb201Row(accuracy, record.get(UNIQUE_COLUMN) or "")
