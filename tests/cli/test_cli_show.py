"""`nas show` and the CLI's error contract: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.cli.main import main
from nas.space.published import PUBLISHED
from tests.cli_errors import assert_one_line_error
from tests.nas_cli import nas


def test_show_imagenet_mobile_prints_paper_figures(capsys: pytest.CaptureFixture[str]) -> None:
    proc = nas("show", "nasnet-a", "--dataset", "imagenet", "--N", "4", "--F", "1056")  # the console script
    assert proc.returncode == 0, proc.stderr
    assert "5.29M params" in proc.stdout and "557.7M mult-adds" in proc.stdout
    assert main(["show", "nasnet-a", "--dataset", "imagenet", "--N", "4", "--F", "1056", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["C"] == 44 and abs(data["params"] - 5.3e6) < 0.05 * 5.3e6
    assert abs(data["mult_adds"] - 564e6) < 0.05 * 564e6


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"g{len(list(tmp_path.iterdir()))}.json"
    path.write_text(text)
    return str(path)


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    good = json.loads(PUBLISHED["darts-v2"].to_json())
    unknown_op = json.loads(json.dumps(good))
    unknown_op["normal"]["blocks"][0]["op_a"] = "conv_9x9"
    out_of_range = json.loads(json.dumps(good))
    out_of_range["reduce"]["blocks"][1]["input_b"] = 7
    return [
        (["search", "--space", "darts"], "unknown search space"),
        (["show", _write(tmp_path, json.dumps(unknown_op))], "unknown op 'conv_9x9'"),
        (["show", _write(tmp_path, '{"schema_version": 1, "normal": {"blo')], "not valid JSON"),
        (["show", _write(tmp_path, json.dumps(out_of_range))], "reduce.blocks[1].input_b"),
        (["show", "nasnet-a", "--N", "6", "--F", "770"], "not realizable"),
        (["show", "no-such-file.json"], "neither a genotype file"),
        (["show", "nasnet-a", "--N", "0"], "argument --N: must be >= 1"),
        (["show", _write(tmp_path, '{"normal": 1' + "0" * 4999 + "}")], "not valid JSON"),  # 5,000 digits
        (["show", "enas", "--dataset", "imagenet"], "reports no 'mobile' network"),
        (["show", "pnas", "--preset", "large", "--dataset", "cifar10"], "builds a network on imagenet"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, case: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process: the same `main` the console script runs (`tests/cli/test_bad_input.py` runs
    some as real processes)."""
    args, message = _bad_inputs(tmp_path)[case]
    assert_one_line_error(main(args), capsys.readouterr().err, message)
