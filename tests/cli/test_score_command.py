"""`nas score`: a table or one JSON object of each cell's proxy scores, the same in every process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.cli.main import main

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_score_json_of_given_and_random_cells(cifar_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = [
        "--C",
        "4",
        "--batch-size",
        "4",
        "--data-dir",
        str(cifar_dir),
        "--proxy",
        "synflow,naswot,params",
    ]
    assert (
        main(
            [
                "score",
                ALL_NONE,
                "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                *flags,
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "nas-bench-201" and len(out["cells"]) == 2
    none_cell, conv_cell = (c["scores"] for c in out["cells"])
    assert set(none_cell) == {"synflow", "naswot", "params"}
    assert conv_cell["synflow"] > none_cell["synflow"] and conv_cell["params"] > none_cell["params"]
    assert main(["score", "--random", "2", "--space", "nasnet", "--N", "1", *flags]) == 0
    table = capsys.readouterr().out
    assert "random-0-0" in table and "s/cell" in table
