"""Bad input, as a hostile user types it, never gets a traceback, a hang or a silent success.

Every sub-command is fed bad command lines: a wrong type, a value out of range, nonsense, a path that
cannot be written, a damaged file. Each must end with exit code 2 and exactly one line on stderr,
``nas: error: ...``, naming what is wrong, and must not echo a huge value in full. The CLI runs
in-process (`nas.cli.main.main`) since validation happens before Ray starts; a few cases run as real
subprocesses with a timeout, the cluster checks among them.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.cli.main import main
from nas.errors import ConfigError, shown
from nas.search.settings import SearchSettings
from nas.space.genotype import Genotype, display_name
from nas.space.published import PUBLISHED
from tests.cli_errors import Payload, assert_one_line_error

REPO_ROOT = Path(__file__).resolve().parents[2]
NAS = [sys.executable, "-m", "nas.cli"]
SUBPROCESS_TIMEOUT_S = 240  # a bound, not a speed claim: Ray's start on a loaded 2-core box included
HUGE = "9" * 100_000
NB201_BAD = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|pool~2|"  # a NAS-Bench-201 cell, one op unknown


@pytest.fixture
def paths(tmp_path: Path, cifar_dir: Path) -> dict[str, str]:
    """Named inputs the command lines below refer to as ``{name}``."""
    tiny = json.loads(PUBLISHED["darts-v2"].to_json())
    made = {
        "file": ("a-file", "not a folder\n"),
        "genotype": ("genotype.json", json.dumps(tiny)),
        "schema_true": ("schema_true.json", json.dumps({**tiny, "schema_version": True})),
        "name_list": ("name_list.json", json.dumps({**tiny, "name": list(range(100_000))})),
        "genotype_list": ("genotype_list.json", "[1, 2, 3]"),
        "binary": ("binary.json", b"\xff\xfe\x00garbage".decode("latin-1")),
        "toml_abc": ("abc.toml", 'trials = "abc"\n'),
        "toml_float": ("float.toml", "trials = 2.5\n"),
        "toml_unknown": ("unknown.toml", "trails = 3\n"),
        "toml_options": ("options.toml", "searcher_options = 5\n"),
        "toml_broken": ("broken.toml", "trials = [\n"),
        "nb201_bad": (
            "nb201_bad.json",
            json.dumps({"schema_version": 1, "space": "nas-bench-201", "arch": NB201_BAD}),
        ),
    }
    out = {"tmp": str(tmp_path), "cifar": str(cifar_dir), "dir": str(tmp_path / "a-dir")}
    out |= {"huge_number": HUGE, "huge_text": "x" * 100_000}
    (tmp_path / "a-dir").mkdir()
    for key, (name, text) in made.items():
        path = tmp_path / name
        path.write_text(text, encoding="latin-1" if key == "binary" else "utf-8")
        out[key] = str(path)
    for key, config in {"run_list": "[1, 2]", "run_garbage": "{not json", "run_ok": None}.items():
        run = tmp_path / key
        run.mkdir()
        (run / "config.json").write_text(config or json.dumps(SearchSettings(name=key).to_dict()))
        (run / "trials.jsonl").write_text("")
        out[key] = str(run)
    garbage = tmp_path / "run_garbage_line"
    garbage.mkdir()
    (garbage / "config.json").write_text(json.dumps(SearchSettings(name="g").to_dict()))
    (garbage / "trials.jsonl").write_text("{}\ngarbage\n{}\n")
    out["run_garbage_line"] = str(garbage)
    return out


def read_cases(path: Path) -> list[tuple[list[str], str]]:
    """``ARGS => EXPECTED`` lines (blank lines and ``#`` comments skipped): shell-split ARGS, the error."""
    cases = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            args, expected = line.split(" => ", 1)
            cases.append((shlex.split(args), expected))
    return cases


CASES = read_cases(Path(__file__).with_name("bad_command_lines.txt"))


def _fill(args: list[str], paths: dict[str, str]) -> list[str]:
    return [a.format(**paths) if "{" in a else a for a in args]


def test_at_least_sixty_bad_command_lines_across_every_sub_command() -> None:
    commands = {args[0] for args, _ in CASES}
    assert commands == {"show", "train", "search", "submit", "transfer", "export", "report", "score"}
    assert len(CASES) >= 60


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_command_line_is_one_line_and_exit_2(
    args: list[str], expected: str, paths: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_fill(args, paths))
    out, err = capsys.readouterr()
    assert_one_line_error(code, err, expected.format(**paths))
    assert out == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize(
    "args",
    [
        ["show", "nasnet-a", "--plot", "{ro}/x.png"],
        ["train", "nasnet-a", "--out", "{ro}/t"],
        ["report", "{run_ok}", "--out", "{ro}/r"],
        ["search", "--results-dir", "{ro}/r"],
    ],
)
def test_read_only_output_is_one_line(
    args: list[str], paths: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code = main(_fill(args, {**paths, "ro": str(ro)}))
    assert_one_line_error(code, capsys.readouterr().err, "is not writable")


def test_unreadable_run_config_on_resume_is_one_line(
    paths: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A config.json that cannot be read (here: a folder in its place) names the file."""
    run = Path(paths["tmp"], "run_dir_config")
    (run / "config.json").mkdir(parents=True)
    code = main(["search", "--resume", str(run)])
    assert_one_line_error(code, capsys.readouterr().err, "is not a search run folder")
    Path(paths["run_ok"], "config.json").unlink()
    Path(paths["run_ok"], "config.json").symlink_to(Path(paths["tmp"], "nowhere"))
    code = main(["search", "--resume", paths["run_ok"]])
    assert_one_line_error(code, capsys.readouterr().err, "is not a search run folder")


SPECIAL_NAMES = ["[/bogus]", "[bold]x", "\x1b[31mred\x1b[0m", "\ud800", "a\nb", "$x^2$", "\x00"]


def _names() -> st.SearchStrategy[str]:
    """Any text, lone surrogates, control characters, rich markup and ANSI escapes included."""
    specials = st.sampled_from(SPECIAL_NAMES)
    chars = st.characters(codec=None, exclude_categories=())
    return st.one_of(specials, st.text(chars, max_size=200), st.lists(specials, max_size=5).map("".join))


@settings(max_examples=300, deadline=None)
@given(name=_names())
def test_any_genotype_name_survives_json_and_prints_as_one_escaped_line(name: str) -> None:
    genotype = Genotype(PUBLISHED["darts-v2"].normal, PUBLISHED["darts-v2"].reduce, name=name)
    assert Genotype.from_json(genotype.to_json()) == genotype  # lone surrogates included
    shown_name = display_name(name)
    assert shown_name.isprintable() and len(shown_name) <= 80
    shown_name.encode("utf-8")  # no lone surrogate reaches a terminal


@pytest.mark.parametrize("name", ["".join(SPECIAL_NAMES), *SPECIAL_NAMES[:3]])
def test_nas_show_prints_a_name_as_data(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich markup, ANSI escapes, control characters and a lone surrogate neither crash nor style."""
    genotype = Genotype(PUBLISHED["darts-v2"].normal, PUBLISHED["darts-v2"].reduce, name=name)
    path = tmp_path / "named.json"
    path.write_text(genotype.to_json(), encoding="utf-8")
    assert main(["show", str(path), "--N", "1", "--C", "4"]) == 0
    out = capsys.readouterr().out
    assert display_name(name) in out.replace("\n", "") and "\x1b" not in out
    if len(name) > 20:
        assert main(["show", str(path), "--N", "1", "--C", "4", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["genotype"] == name


def test_a_100_kb_name_is_capped_in_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    genotype = Genotype(PUBLISHED["darts-v2"].normal, PUBLISHED["darts-v2"].reduce, name="n" * 100_000)
    path = tmp_path / "long.json"
    path.write_text(genotype.to_json(), encoding="utf-8")
    assert main(["show", str(path), "--N", "1", "--C", "4", "--plot", str(tmp_path / "cells.png")]) == 0
    assert "n" * 81 not in capsys.readouterr().out


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_KEYS = [f for f in SearchSettings.__dataclass_fields__ if f not in ("searcher_options", "searcher")]


@settings(max_examples=150, deadline=None)
@given(
    values=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4),
    options=st.dictionaries(
        st.sampled_from(["population_size", "sample_size", "hidden_size", "lr", "ppo", "temperature", "x"]),
        _VALUES,
        max_size=2,
    ),
    searcher=st.sampled_from(["rl", "evolution", "random"]),
)
def test_any_settings_are_accepted_or_refused_in_one_line(
    values: dict[str, object], options: dict[str, object], searcher: str
) -> None:
    """Whatever a TOML file holds, `validate` accepts it or raises `ConfigError` (nothing else), with
    a one-line message that names a flag and stays short."""
    settings_ = SearchSettings.from_dict({**values, "searcher": searcher, "searcher_options": options})
    try:
        settings_.validate()
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("--") and "\n" not in message and len(message) < 600, message
        return
    for key, value in values.items():  # what passed is typed and finite
        assert not (isinstance(value, float) and not math.isfinite(value)), (key, value)


def test_shown_caps_huge_values() -> None:
    assert len(shown(list(range(100_000)))) == 80
    assert shown("\x1b[31m\ud800") == "'\\x1b[31m\\ud800'"


def _nas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(
        [*NAS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=SUBPROCESS_TIMEOUT_S
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["show", "nasnet-a", "--N", "1", "--C", "1000000000"], "argument --C"),
        (["train", "nasnet-a", "--cutout", "-5"], "argument --cutout"),
        (["transfer", "--genotype", "nasnet-a", "--lr", "nan", "--dry-run"], "argument --lr"),
        (["search", "--searcher-option", "lr=Infinity"], "rl lr"),
    ],
)
def test_real_process_bad_input(args: list[str], expected: str, tmp_path: Path) -> None:
    proc = _nas(*args, cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--cpus-per-trial", "1000"], "--cpus-per-trial 1000: the cluster has"),
        (["--gpus-per-trial", "1"], "--gpus-per-trial 1: the cluster has 0 GPUs"),
    ],
)
def test_resources_the_cluster_never_offers_are_refused_before_tune(
    flags: list[str], expected: str, tmp_path: Path, cifar_dir: Path
) -> None:
    """Compared with the cluster's totals once connected: no wait for resources that never come."""
    if "--gpus-per-trial" in flags:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    args = [
        "search",
        "--data-dir",
        str(cifar_dir),
        "--results-dir",
        "r",
        "--name",
        "n",
        "--wandb",
        "disabled",
    ]
    proc = _nas(*args, *flags, "--json", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, expected)
    assert proc.stdout == ""
    assert not (tmp_path / "r" / "n" / "trials.jsonl").exists()


@pytest.mark.slow
def test_waiting_for_resources_is_bounded_and_a_child_reports_its_real_failure(
    tmp_path: Path, cifar_dir: Path
) -> None:
    """One local Ray for both: (1) every CPU held by another job, the search stops after --max-wait
    with our message, writes no row and keeps its proposal outstanding for a resume; (2) a child that
    cannot start records the first line of its exception as the reason, not a pointer to error.txt."""
    import ray

    from nas.errors import NasError
    from nas.results.run_folder import read_json
    from nas.search.runner import open_run, run_search

    tiny = {"searcher": "random", "blocks": 2, "N": 1, "C": 4, "trials": 1, "train_size": 256}
    tiny |= {"val_size": 128, "data_dir": str(cifar_dir), "wandb": "disabled", "results_dir": str(tmp_path)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:

        @ray.remote(num_cpus=2)
        class Hog:
            def ping(self) -> int:
                return 1

        hog = Hog.remote()  # type: ignore[attr-defined]
        ray.get(hog.ping.remote())
        waiting = SearchSettings(**tiny, name="waits", max_wait=5, batch_size=64)
        run = open_run(waiting)
        with pytest.raises(NasError, match=r"--max-wait 5: no child could start for \d+ s .*1 CPU"):
            run_search(waiting, run)
        assert run.trials() == []
        assert list(read_json(run.searcher_state)["ledger"]["outstanding"]) == ["0"]  # rerun on resume
        ray.kill(hog)

        failing = SearchSettings(**tiny, name="fails", batch_size=512)  # bigger than --train-size 256
        run = open_run(failing)
        outcome = run_search(failing, run)
        (row,) = run.trials()
        assert outcome.trials_failed == 1 and row.status == "failed"
        assert row.error is not None and row.error.startswith(
            "ConfigError: batch_size: 512 exceeds the 256 training images"
        )
    finally:
        ray.shutdown()


def test_tampered_transfer_checkpoint_is_one_line(
    tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused by ``weights_only=True`` before Ray starts, in one line naming the checkpoint."""
    import torch

    folder = tmp_path / "out" / "ray" / "transfer" / "epoch_0001"  # as Ray Train names it here
    folder.mkdir(parents=True)
    torch.save({"model": Payload()}, folder / "state.pt")
    (folder / "history.json").write_text("{}")
    args = ["transfer", "--genotype", "nasnet-a", "--dataset", "cifar10", "--N", "1", "--C", "4"]
    args += ["--data-dir", str(cifar_dir), "--out", str(tmp_path / "out"), "--resume", "--json"]
    code = main(args)
    out, err = capsys.readouterr()
    assert_one_line_error(code, err, f"{folder}: not a loadable checkpoint")
    assert "pwned" not in out + err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_no_space_left_is_one_line(tmp_path: Path) -> None:
    """Output to a full device (``/dev/full`` answers every write with ENOSPC): one line, no traceback."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*NAS, "show", "nasnet-a", "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
            cwd=REPO_ROOT, timeout=SUBPROCESS_TIMEOUT_S, check=False,
        )  # fmt: skip
    line = assert_one_line_error(done.returncode, done.stderr, "No space left on device: free space, then")
    assert "--resume" in line


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ({"model": Payload()}, "not a loadable checkpoint (Weights only load failed"),
        ([1, 2, 3], "not a checkpoint (a list"),
        ({"optimizer": {}}, "not a checkpoint of this package"),
        ({"format": "nas-network/99"}, "checkpoint format 'nas-network/99'"),
        ({"format": "nas-network/1", "genotype": "{", "network": "{}", "model": {}}, "damaged checkpoint"),
    ],
    ids=["tampered", "list", "no-weights", "future-format", "damaged-metadata"],
)
def test_bad_export_checkpoint_is_one_line(
    saved: object, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nas export` loads with ``weights_only=True``: a smuggled object is refused, never run."""
    import torch

    torch.save(saved, tmp_path / "model.pt")
    code = main(["export", str(tmp_path)])
    out, err = capsys.readouterr()
    assert_one_line_error(code, err, f"{tmp_path / 'model.pt'}: {expected}")
    assert "pwned" not in out + err and not (tmp_path / "model.pt2").exists()


def test_export_onnx_without_the_extra_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The optional extra missing (an import blocked as ``sys.modules[name] = None`` does): the
    message says how to install it, before any checkpoint is read."""
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    code = main(["export", str(tmp_path), "--format", "onnx"])
    assert_one_line_error(
        code, capsys.readouterr().err, "needs onnxscript, not installed: pip install -e '.[onnx]'"
    )
