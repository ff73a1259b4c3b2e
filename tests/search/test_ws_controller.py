"""The ``--weight-sharing`` search drives the RL controller as ENAS did on CIFAR-10 (micro search)."""

from __future__ import annotations

from typing import Any

from nas.search.searcher import build_space
from nas.search.settings import SearchSettings
from nas.search.weight_sharing import stage_searcher


def _config(**settings: Any) -> Any:
    base = SearchSettings(searcher="rl", weight_sharing=True, blocks=2, **settings)
    searcher = stage_searcher(base, build_space("nasnet", blocks=2))
    return searcher.config  # type: ignore[attr-defined]


def test_weight_sharing_rl_gets_enas_cifar_controller_settings() -> None:
    config = _config(ws_archs_per_step=10)
    assert config.temperature is None and config.tanh_constant == 1.10 and config.op_tanh_reduce == 2.5
    assert (config.lr, config.batch_size, config.baseline_decay, config.entropy_weight) == (
        0.0035,
        10,
        0.99,
        1e-4,
    )
    assert config.advantage == "moving_average"
    assert _config(ws_archs_per_step=3).batch_size == 3  # --ws-archs-per-step reaches the controller
    assert _config(searcher_options={"lr": 0.01}).lr == 0.01  # the user's options still win


def test_stand_alone_rl_keeps_its_defaults() -> None:
    from controllers.rnn_reinforce import RLConfig

    config = RLConfig()
    assert (config.temperature, config.tanh_constant, config.op_tanh_reduce, config.lr) == (
        None,
        2.5,
        1.0,
        0.01,
    )
    assert (config.advantage, config.entropy_weight) == ("leave_one_out", 1e-4)
