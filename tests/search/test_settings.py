"""Settings with one source: `SearchSettings`' fields make the flags, help and defaults of
``nas search`` and ``nas submit``; presets fill what no flag or ``--config`` gives; config.json records
every resolved value, and a resume keeps them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import re
from pathlib import Path

import pytest

from nas.cli.main import build_parser, main
from nas.cli.search import add_search_arguments, field_help, given_settings
from nas.cli.submit import forwarded_flags
from nas.errors import ConfigError
from nas.model.network import NetworkConfig
from nas.search.presets import PRESETS, apply_preset
from nas.search.resolve import RUNTIME_KEYS, open_search_run, resolve_settings
from nas.search.settings import ChildSettings, SearchSettings, flag_name
from nas.train.trainer import TrainConfig


def _help(settings_class: type[SearchSettings] = SearchSettings) -> str:
    parser = argparse.ArgumentParser(prog="nas search", add_help=False)
    add_search_arguments(parser, settings_class=settings_class)
    return " ".join(parser.format_help().split())  # argparse's line wrapping undone


def _flag_help(text: str, flag: str) -> str:
    """The help of ``flag`` in ``--help`` output with its wrapping undone, up to its first ``)``."""
    match = re.search(rf" {re.escape(flag)} [A-Z_=]+ ([^)]*\))", text)
    assert match, flag
    return match.group(1)


def test_a_changed_default_changes_the_help_and_nothing_else_is_edited() -> None:
    """A subclass that changes one field's default (no other edit) gets a parser whose help says so."""
    meta = SearchSettings.__dataclass_fields__["trials"].metadata

    @dataclasses.dataclass(frozen=True)
    class Longer(SearchSettings):
        trials: int = dataclasses.field(default=99, metadata=meta)

    assert Longer().trials == 99
    assert "(default 16)" in _flag_help(_help(), "--trials")
    assert "(default 99)" in _flag_help(_help(Longer), "--trials")


def test_nas_search_help_follows_the_fields_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--help"]) == 0
    assert "(default 1)" in _flag_help(" ".join(capsys.readouterr().out.split()), "--epochs")
    monkeypatch.setattr(SearchSettings.__dataclass_fields__["epochs"], "default", 7)
    assert main(["search", "--help"]) == 0
    assert "(default 7)" in _flag_help(" ".join(capsys.readouterr().out.split()), "--epochs")


def test_every_setting_is_a_flag_with_its_default_in_the_help() -> None:
    text = _help()
    for f in dataclasses.fields(SearchSettings):
        assert f" {flag_name(f.name)} " in text, f.name
        assert " ".join(field_help(f).split()) in text, f.name
        if f.default is True:  # on by default: said so, and a --no- flag turns it off
            assert "(default: on)" in field_help(f) and f" --no-{flag_name(f.name)[2:]} " in text, f.name
        elif f.default not in (None, False, dataclasses.MISSING):
            shown = f"{f.default:g}" if isinstance(f.default, float) else str(f.default)
            assert f"(default {shown})" in field_help(f), f.name


def test_runtime_settings_are_those_marked_so() -> None:
    assert RUNTIME_KEYS == {
        "address",
        "data_dir",
        "download",
        "gpus_per_trial",
        "cpus_per_trial",
        "max_concurrent",
        "max_failures",
        "max_wait",
        "wandb",
    }


def _given(*argv: str) -> dict[str, object]:
    return given_settings(build_parser().parse_args(["search", *argv]))


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_resolves_and_config_json_records_it(name: str, tmp_path: Path) -> None:
    settings, resumed = resolve_settings(
        _given("--preset", name, "--results-dir", str(tmp_path), "--name", "r"), resume=None
    )
    assert not resumed and settings.preset == name
    for key, value in PRESETS[name].values.items():
        assert getattr(settings, key) == value, key
    run = open_search_run(settings)
    assert json.loads(run.config.read_text()) == settings.to_dict()  # every resolved value
    assert set(settings.to_dict()) == {f.name for f in dataclasses.fields(SearchSettings)}

    again, resumed = resolve_settings(_given("--resume", str(run.path)), resume=str(run.path))
    assert resumed and again == settings  # a resume keeps the preset's values
    with pytest.raises(ConfigError, match=rf"preset is '{name}' there, 'other' here"):
        resolve_settings({"preset": "other", "name": "r", "results_dir": str(tmp_path)}, resume=None)


def test_flags_and_config_override_the_preset(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("epochs = 3\nval_size = 1000\n")
    given = _given("--preset", "gpu", "--config", str(config), "--epochs", "4", "--batch-size", "64")
    settings = SearchSettings.from_dict(apply_preset(given))
    settings.validate()
    assert (settings.batch_size, settings.epochs, settings.val_size) == (64, 4, 1000)
    assert (settings.gpus_per_trial, settings.train_size, settings.preset) == (0.25, 20_000, "gpu")

    nasnet = apply_preset(_given("--preset", "nasnet", "--searcher-option", "lr=0.01"))
    assert nasnet["searcher_options"]["lr"] == 0.01 and nasnet["searcher_options"]["ppo"] is True
    other = SearchSettings.from_dict(apply_preset(_given("--preset", "nasnet", "--searcher", "evolution")))
    other.validate()  # the rl options of the preset are not handed to evolution
    assert other.searcher_options == {} and other.trials == 20_000


def test_the_cpu_preset_is_the_fields_defaults() -> None:
    assert PRESETS["cpu"].values == {}
    assert SearchSettings.from_dict(apply_preset({})) == SearchSettings()


def test_preset_help_shows_its_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--preset", "nasnet", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "preset nasnet: NASNet's search as published" in text and "Not reproduced" in text
    assert "(preset 20000)" in _flag_help(text, "--trials")
    assert "(preset 0.025)" in _flag_help(text, "--lr")
    assert "(default 0)" in _flag_help(text, "--seed")  # not set by the preset


def test_child_settings_are_typed_and_survive_pickling() -> None:
    child = ChildSettings.of(SearchSettings(data_dir="data", N=2, C=4, epochs=3, batch_size=16))
    assert isinstance(child.network, NetworkConfig) and isinstance(child.train, TrainConfig)
    assert (child.network.N, child.network.C, child.train.epochs, child.train.batch_size) == (2, 4, 3, 16)
    assert child.data_dir == str(Path("data").resolve())
    assert pickle.loads(pickle.dumps(child)) == child


def test_submit_forwards_what_search_reads_back(tmp_path: Path) -> None:
    argv = ["--preset", "gpu", "--trials", "5", "--download", "--searcher-option", "lr=0.1"]
    argv += ["--searcher-option", "batch_size=2", "--results-dir", "r", "--gpus-per-trial", "0.5"]
    argv += ["--score", "train_loss_sum", "--no-crn"]
    submit = build_parser().parse_args(["submit", "--address", "http://h:8265", *argv])
    forwarded = forwarded_flags(submit, cwd=tmp_path)
    assert "--address" not in forwarded and "--help" not in forwarded
    expected = {**_given(*argv), "results_dir": str(tmp_path / "r")}
    assert _given(*forwarded) == expected


def test_the_score_defaults_to_val_loss_is_recorded_and_a_resume_keeps_it(tmp_path: Path) -> None:
    """docs/fidelity.md: val_loss in both spaces; tabular NAS-Bench-201 has only the table's accuracy."""
    base = ("--results-dir", str(tmp_path))
    for space in ("nasnet", "nas-bench-201"):
        settings, _ = resolve_settings(_given("--space", space, *base, "--name", space), resume=None)
        assert (settings.score, ChildSettings.of(settings).score_by) == ("val_loss", "val_loss")
    table = tmp_path / "table.csv"  # not read: the score is settled before the table is
    tabular = _given("--space", "nas-bench-201", "--benchmark", str(table), *base, "--name", "t")
    assert resolve_settings(tabular, resume=None)[0].score == "val_accuracy"
    trained = _given("--space", "nas-bench-201", "--benchmark", str(table), "--train", "--score", "val_loss")
    assert SearchSettings.from_dict(trained).score_by == "val_loss"

    settings, _ = resolve_settings(_given(*base, "--name", "r", "--score", "train_loss_sum"), resume=None)
    run = open_search_run(settings)
    assert json.loads(run.config.read_text())["score"] == "train_loss_sum"
    again, resumed = resolve_settings(_given("--resume", str(run.path)), resume=str(run.path))
    assert resumed and again.score_by == "train_loss_sum"
    with pytest.raises(ConfigError, match="score is 'train_loss_sum' there, 'val_loss' here"):
        resolve_settings(_given("--resume", str(run.path), "--score", "val_loss"), resume=str(run.path))


def test_a_run_from_before_the_score_setting_resumes_scored_by_accuracy(tmp_path: Path) -> None:
    settings, _ = resolve_settings(_given("--results-dir", str(tmp_path), "--name", "old"), resume=None)
    run = open_search_run(settings)
    saved = json.loads(run.config.read_text())
    del saved["score"], saved["crn"]  # a config.json written before either setting existed
    run.config.write_text(json.dumps(saved))
    again, _ = resolve_settings(_given("--resume", str(run.path)), resume=str(run.path))
    assert (again.score_by, again.crn) == ("val_accuracy", True)


def test_no_crn_gives_each_child_its_own_seed() -> None:
    on = ChildSettings.of(SearchSettings.from_dict(_given()))
    off = ChildSettings.of(SearchSettings.from_dict(_given("--no-crn")))
    assert on.train.crn and not off.train.crn
    assert (
        on.train.for_trial("7").seed == 0 and off.train.for_trial("7").seed != off.train.for_trial("8").seed
    )
