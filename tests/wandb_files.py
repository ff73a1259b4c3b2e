"""Read W&B offline run files back, record by record, as ``wandb sync`` would upload them."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _records(path: Path) -> Iterator[Any]:
    """The ``wandb.proto`` records of an offline ``.wandb`` file.

    wandb 0.31 ships no Python reader (its writer is the Go core), so this walks the container
    itself: a 7-byte header (``:W&B``, magic, version), then leveldb log blocks of 32 KiB whose
    records carry a 7-byte header (crc32, length, type: full/first/middle/last).
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, pos, pending = 32 * 1024, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (kind == 0 and length == 0):  # block trailer padding
            pos += left
            continue
        payload, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _key(item: Any) -> str:
    return str(item.key) if item.key else "/".join(item.nested_key)


@dataclass
class RunFile:
    """What an offline run holds, as ``wandb sync`` would upload it."""

    run_id: str = ""
    group: str = ""
    job_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def series(self, key: str) -> list[Any]:
        return [row[key] for row in self.history if key in row]


def read_run(path: Path) -> RunFile:
    run = RunFile()
    for record in _records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.group, run.job_type = record.run.run_id, record.run.run_group, record.run.job_type
            run.config.update({_key(u): json.loads(u.value_json) for u in record.run.config.update})
        elif kind == "config":
            run.config.update({_key(u): json.loads(u.value_json) for u in record.config.update})
        elif kind == "summary":
            run.summary.update({_key(u): json.loads(u.value_json) for u in record.summary.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "artifact":
            paths = [entry.path for entry in record.artifact.manifest.contents]
            run.artifacts.append((record.artifact.type, record.artifact.name, paths))
    return run
