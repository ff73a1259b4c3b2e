"""Every proxy: deterministic for a seed, blind to the process's RNG state, finite on every op."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nas.errors import ConfigError
from nas.ops.primitives import OPS
from nas.proxies import PROXIES, register_proxy
from nas.proxies.base import Minibatch
from nas.proxies.jacov import jacobian_score
from nas.proxies.score import DEFAULT_PROXIES, Scorer, ScoreSettings, best_by_proxy, random_genotypes
from nas.space.genotype import Block, Cell, Genotype
from nas.space.nb201 import NB201_OPS, Nb201Genotype

TINY = {"N": 1, "C": 4, "batch_size": 4}


@pytest.fixture(scope="module")
def scorer(cifar_dir: Path) -> Scorer:
    return Scorer(ScoreSettings(data_dir=cifar_dir, **TINY))


def one_op_cell(op: str, combine: str = "add") -> Genotype:
    """Both cells made of ``op`` alone: 2 blocks reading h_{i-2}, h_{i-1} and the first block."""
    cell = Cell(
        blocks=(
            Block(input_a=0, input_b=1, op_a=op, op_b=op, combine=combine),
            Block(input_a=2, input_b=1, op_a=op, op_b=op, combine=combine),
        )
    )
    return Genotype(normal=cell, reduce=cell, name=op)


def test_every_proxy_is_registered_and_a_name_is_taken_once() -> None:
    assert set(DEFAULT_PROXIES) == set(PROXIES)
    with pytest.raises(ValueError, match="already registered"):
        register_proxy("synflow", batch_size=0, paper="")(lambda net, batch: 0.0)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_scores_finite(op: str, scorer: Scorer) -> None:
    scores = scorer.score(one_op_cell(op))
    assert set(scores) == set(DEFAULT_PROXIES)
    assert all(math.isfinite(v) for v in scores.values()), scores


def test_synflow_naswot_is_the_log_of_synflow_plus_naswot(cifar_dir: Path) -> None:
    """The per-cell combination `nas search --score zero_cost` ranks by: unweighted, synflow by its log;
    a cell through which nothing flows (synflow 0) is floored, finite and below the others."""
    proxies = ("synflow", "naswot", "synflow_naswot")
    scorer = Scorer(ScoreSettings("nas-bench-201", proxies, N=1, C=4, data_dir=cifar_dir))
    convs = scorer.score(Nb201Genotype(("nor_conv_3x3",) * 6))
    assert convs["synflow_naswot"] == pytest.approx(math.log(convs["synflow"]) + convs["naswot"])
    dead = scorer.score(Nb201Genotype(("none",) * 6))
    assert dead["synflow"] == 0.0 and dead["synflow_naswot"] == pytest.approx(
        math.log(1e-30) + dead["naswot"]
    )
    assert dead["synflow_naswot"] < convs["synflow_naswot"]


def test_concat_cells_score_finite(scorer: Scorer) -> None:
    for op in ("sep_conv_3x3", "max_pool_3x3", "skip_connect"):
        assert all(math.isfinite(v) for v in scorer.score(one_op_cell(op, "concat")).values())


def test_scores_are_deterministic_and_ignore_the_global_rng(scorer: Scorer, cifar_dir: Path) -> None:
    genotype = random_genotypes("nasnet", 1, seed=3)[0]
    torch.manual_seed(0)
    first = scorer.score(genotype)
    torch.manual_seed(12345)
    torch.rand(100)
    state = torch.get_rng_state()
    again = Scorer(ScoreSettings(data_dir=cifar_dir, **TINY)).score(genotype)
    assert again == first
    assert torch.equal(torch.get_rng_state(), state)  # scoring left the process's RNG alone
    other_seed = Scorer(ScoreSettings(data_dir=cifar_dir, seed=1, **TINY)).score(genotype)
    assert other_seed["synflow"] != first["synflow"] and other_seed["params"] == first["params"]


def test_scores_tell_cells_apart(scorer: Scorer) -> None:
    pools, convs = scorer.score(one_op_cell("max_pool_3x3")), scorer.score(one_op_cell("conv_3x3"))
    assert convs["params"] > pools["params"] and convs["flops"] > pools["flops"]
    assert convs["synflow"] > pools["synflow"]


def test_jacov_of_constant_or_identical_gradients_is_finite() -> None:
    assert math.isfinite(jacobian_score(torch.zeros(4, 10).double().numpy()))
    assert math.isfinite(jacobian_score(torch.ones(4, 10).double().numpy()))
    assert math.isfinite(jacobian_score(torch.arange(40.0).reshape(4, 10).double().numpy()))


def test_naswot_of_a_network_without_relu_is_finite() -> None:
    batch = Minibatch(torch.randn(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
    assert (
        PROXIES["naswot"].fn(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 2)), batch) == 0.0
    )


def test_best_by_proxy_sorts_random_cells(cifar_dir: Path) -> None:
    best = best_by_proxy("nasnet", "params", 3, 0, N=1, C=4, data_dir=cifar_dir)
    assert {g.name for g in best} == {g.name for g in random_genotypes("nasnet", 3, 0)}
    scorer = Scorer(ScoreSettings(proxies=("params",), data_dir=cifar_dir, N=1, C=4))
    params = [scorer.score(g)["params"] for g in best]
    assert params == sorted(params, reverse=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"proxies": ("synflow", "bogus")}, "unknown proxy 'bogus'"),
        ({"space": "bogus"}, "unknown search space"),
        ({"N": 0}, "N (cells per stage) must be >= 1"),
        ({"batch_size": 1}, "batch_size must be in 2..4096"),
    ],
)
def test_bad_settings_are_config_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScoreSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def nb201_scorer(cifar_dir: Path) -> Scorer:
    return Scorer(ScoreSettings(space="nas-bench-201", data_dir=cifar_dir, **TINY))


@pytest.mark.parametrize(
    "ops",
    [
        ("none",) * 6,  # constant output: every gradient 0, every image coded alike
        ("none", "none", "none", "skip_connect", "none", "none"),
        ("avg_pool_3x3",) * 6,
        *((op,) * 6 for op in NB201_OPS[1:4]),
    ],
)
def test_nb201_cells_score_finite_and_deterministic(ops: tuple[str, ...], nb201_scorer: Scorer) -> None:
    genotype = Nb201Genotype(ops)
    first = nb201_scorer.score(genotype)
    assert set(first) == set(DEFAULT_PROXIES)
    assert all(math.isfinite(v) for v in first.values()), first
    torch.manual_seed(99)
    assert nb201_scorer.score(genotype) == first


def test_nb201_random_cells_and_best_by_proxy(cifar_dir: Path) -> None:
    cells = random_genotypes("nas-bench-201", 4, 0)
    assert all(isinstance(g, Nb201Genotype) for g in cells) and cells[0].name == "random-0-0"
    best = best_by_proxy("nas-bench-201", "params", 4, 0, N=1, C=4, data_dir=cifar_dir)
    scorer = Scorer(ScoreSettings(space="nas-bench-201", proxies=("params",), data_dir=cifar_dir, N=1, C=4))
    params = [scorer.score(g)["params"] for g in best]
    assert params == sorted(params, reverse=True)
    none_cell = scorer.score(Nb201Genotype(("none",) * 6))["params"]
    conv_cell = scorer.score(Nb201Genotype(("nor_conv_3x3",) * 6))["params"]
    assert conv_cell > none_cell
