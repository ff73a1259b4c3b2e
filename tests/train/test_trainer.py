"""nas.train.trainer on the real CIFAR-10 subset, on the CPU: it learns, it is reproducible, and a child's
failure (divergence, an exception, a budget) is a result, never the end of the process."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import ConfigError
from nas.model.network import NetworkConfig, build_network
from nas.ops import primitives as ops
from nas.results.trial import outcome
from nas.space.genotype import Block, Cell, Genotype
from nas.train.data import CifarData, load_cifar10, normalize
from nas.train.trainer import ChildResult, TrainConfig, evaluate, train_child

TINY_NET = NetworkConfig(N=1, C=8)
QUICK = TrainConfig(epochs=1, batch_size=64, lr=0.05, device="cpu", train_size=256, val_size=128)


@pytest.fixture(scope="module")
def data(cifar_dir: Path) -> CifarData:
    return load_cifar10(cifar_dir, train_size=1536, val_size=512)


def _completed(result: ChildResult) -> ChildResult:
    assert result.status == "completed", result.error
    return result


def test_tiny_child_learns(tiny_genotype: Genotype, data: CifarData) -> None:
    # 3 epochs of 1,536 images (72 steps) take this C=8 child from chance (0.10) to 0.32-0.36 on 512
    # held-out images (seeds 0-2, measured). Chance gives 0.10 +- 0.013 (one standard error), so 0.2
    # is ~8 standard errors above chance and ~0.12 below every seed measured: reliable, not lucky.
    reports: list[tuple[int, Mapping[str, float]]] = []
    config = TrainConfig(epochs=3, batch_size=64, lr=0.05, device="cpu")
    result = _completed(
        train_child(tiny_genotype, TINY_NET, config, data, lambda e, m: reports.append((e, m)))
    )
    assert result.val_accuracy is not None and result.val_accuracy >= 0.2, result.val_accuracy_history
    assert result.val_accuracy == max(result.val_accuracy_history)
    assert result.final_val_accuracy == result.val_accuracy_history[-1]
    assert (result.epochs_done, result.steps_done, result.test_accuracy) == (3, 3 * (1536 // 64), None)
    assert result.params is not None and result.mult_adds is not None and result.images_per_s
    assert [e for e, _ in reports] == [1, 2, 3]
    assert {"val_accuracy", "train_loss", "images_per_s"} <= set(reports[0][1])
    assert reports[-1][1]["train_loss"] < reports[0][1]["train_loss"]
    assert result.split == {"split_seed": 0, "train_size": 1536, "val_size": 512, "test_size": 0}


def test_seeded_runs_are_bit_identical(tiny_genotype: Genotype, data: CifarData) -> None:
    config = replace(QUICK, epochs=2, cutout=16, drop_path_prob=0.2)
    rng_before = torch.get_rng_state()
    runs = [_completed(train_child(tiny_genotype, TINY_NET, config, data)) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG is left alone
    assert runs[0].val_accuracy_history == runs[1].val_accuracy_history
    other = _completed(train_child(tiny_genotype, TINY_NET, replace(config, seed=1), data))
    assert (other.params, other.mult_adds) == (runs[0].params, runs[0].mult_adds)


def test_max_steps_test_split_and_checkpoint(
    tiny_genotype: Genotype, cifar_dir: Path, tmp_path: Path
) -> None:
    with_test = load_cifar10(cifar_dir, train_size=256, val_size=128, with_test=True)
    checkpoint = tmp_path / "model.pt"
    result = _completed(
        train_child(
            tiny_genotype, TINY_NET, replace(QUICK, epochs=5, max_steps=3), with_test, checkpoint=checkpoint
        )
    )
    assert (result.steps_done, result.epochs_done) == (3, 1)
    assert result.test_accuracy is not None and 0.0 <= result.test_accuracy <= 1.0
    state = torch.load(checkpoint, weights_only=True)["model"]  # beside it: the genotype and config
    fresh = build_network(tiny_genotype, TINY_NET).state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in fresh.items()}


def test_diverging_child_fails_and_the_next_one_runs(tiny_genotype: Genotype, data: CifarData) -> None:
    result = train_child(tiny_genotype, TINY_NET, replace(QUICK, lr=1e6, grad_clip=None), data)
    assert result.status == "failed" and result.error is not None
    assert "non-finite loss" in result.error
    assert result.val_accuracy is None and result.params is not None
    _completed(train_child(tiny_genotype, TINY_NET, QUICK, data))


class _RaiseInBackward(torch.autograd.Function):
    """Identity forward; backward raises -- an exception in the middle of a real training step."""

    error: Exception = RuntimeError("boom")

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        raise _RaiseInBackward.error


class _Explode(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = _RaiseInBackward.apply(x)
        return out


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RuntimeError("boom"), "RuntimeError: boom"),
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
            "OutOfMemoryError: CUDA out of",
        ),
    ],
    ids=["exception", "oom"],
)
def test_crashing_child_fails_and_the_next_one_runs(
    tiny_genotype: Genotype, data: CifarData, monkeypatch: pytest.MonkeyPatch, error: Exception, expected: str
) -> None:
    monkeypatch.setitem(ops.OPS, "explode", lambda C, stride, affine: _Explode())
    monkeypatch.setattr(_RaiseInBackward, "error", error)
    block = Block(input_a=0, input_b=1, op_a="explode", op_b="skip_connect")
    crashing = Genotype(normal=Cell(blocks=(block,)), reduce=tiny_genotype.reduce)  # normal: stride 1
    result = train_child(crashing, TINY_NET, QUICK, data)
    assert result.status == "failed" and result.error is not None and result.error.startswith(expected)
    assert result.epochs_done == 0
    _completed(train_child(tiny_genotype, TINY_NET, QUICK, data))


def test_unbuildable_child_fails(data: CifarData) -> None:
    block = Block(input_a=0, input_b=1, op_a="no_such_op", op_b="skip_connect")
    result = train_child(Genotype(normal=Cell((block,)), reduce=Cell((block,))), TINY_NET, QUICK, data)
    assert result.status == "failed" and result.error is not None and "no_such_op" in result.error


@pytest.mark.parametrize("budget", [{"max_params": 1000}, {"max_mult_adds": 10_000}])
def test_over_budget_child_is_rejected_untrained(
    tiny_genotype: Genotype, data: CifarData, budget: dict[str, int]
) -> None:
    result = train_child(tiny_genotype, TINY_NET, replace(QUICK, epochs=50, **budget), data)
    assert result.status == "rejected" and result.error is not None and "exceed" in result.error
    assert (result.epochs_done, result.steps_done, result.val_accuracy) == (0, 0, None)
    assert result.params is not None and result.params > 1000
    assert outcome(result.status, result.val_accuracy).status == "rejected"


def test_report_exceptions_propagate(tiny_genotype: Genotype, data: CifarData) -> None:
    class StopTrial(Exception):
        pass

    def stop(epoch: int, metrics: Mapping[str, float]) -> None:
        raise StopTrial(f"stopped at epoch {epoch}")

    with pytest.raises(StopTrial, match="epoch 1"):
        train_child(tiny_genotype, TINY_NET, replace(QUICK, epochs=3), data, stop)
    _completed(train_child(tiny_genotype, TINY_NET, QUICK, data))


def test_evaluate_restores_the_mode(tiny_genotype: Genotype, data: CifarData) -> None:
    model = build_network(tiny_genotype, TINY_NET).train()
    accuracy, _ = evaluate(model, data.val.images, data.val.labels, batch_size=100)
    assert 0.0 <= accuracy <= 1.0 and model.training


def test_result_round_trips_to_a_trial_result(tiny_genotype: Genotype, data: CifarData) -> None:
    result = _completed(train_child(tiny_genotype, TINY_NET, QUICK, data))
    trial = outcome(result.status, result.val_accuracy, result.params)
    assert (trial.status, trial.reward, trial.params) == ("completed", result.val_accuracy, result.params)
    assert result.to_dict()["val_accuracy_history"] == list(result.val_accuracy_history)


def test_losses_are_recorded_and_each_is_a_score(tiny_genotype: Genotype, data: CifarData) -> None:
    reports: list[Mapping[str, float]] = []
    result = _completed(
        train_child(tiny_genotype, TINY_NET, replace(QUICK, epochs=2), data, lambda e, m: reports.append(m))
    )
    steps_per_epoch = 256 // QUICK.batch_size
    assert result.train_loss_sum == pytest.approx(sum(m["train_loss"] * steps_per_epoch for m in reports))
    assert [m["train_loss_sum"] for m in reports][-1] == pytest.approx(result.train_loss_sum)
    assert result.val_loss_history == tuple(m["val_loss"] for m in reports)
    assert result.val_loss == min(result.val_loss_history) and 0.0 < result.val_loss < 10.0
    assert result.to_dict()["val_loss_history"] == list(result.val_loss_history)
    assert [m["best_val_loss"] for m in reports][-1] == result.val_loss
    # The search's rule (`nas.results.trial.score_of`): losses as exp(-loss), so higher is better.
    assert (result.score(), result.score("val_loss"), result.score("train_loss_sum")) == pytest.approx(
        (
            result.val_accuracy,
            math.exp(-result.val_loss),
            math.exp(-result.train_loss_sum / result.steps_done),
        )
    )
    with pytest.raises(ConfigError, match="unknown 'test_accuracy'"):
        result.score("test_accuracy")


def test_evaluate_with_loss_is_the_cross_entropy(tiny_genotype: Genotype, data: CifarData) -> None:
    model = build_network(tiny_genotype, TINY_NET)
    images, labels = data.val.images[:200], data.val.labels[:200]
    accuracy, loss = evaluate(model, images, labels, batch_size=64)
    model.eval()
    with torch.inference_mode():
        logits = model(normalize(images)).logits
    assert accuracy == pytest.approx(float((logits.argmax(1) == labels).float().mean()))
    assert loss == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-5)


def test_common_random_numbers_make_children_of_one_cell_equal(
    tiny_genotype: Genotype, data: CifarData
) -> None:
    # With CRN (the default) two children of the same cell are the same experiment: same accuracy on
    # the CPU. Without, each child draws its own seed from (search seed, trial id), reproducibly.
    tiny = replace(QUICK, batch_size=32, max_steps=3, val_size=128)
    crn = [_completed(train_child(tiny_genotype, TINY_NET, tiny.for_trial(t), data)) for t in ("1", "2")]
    assert crn[0].val_accuracy_history == crn[1].val_accuracy_history
    assert crn[0].val_loss_history == crn[1].val_loss_history
    free = replace(tiny, crn=False)
    seeds = {t: free.for_trial(t).seed for t in ("1", "2")}
    assert seeds["1"] != seeds["2"] and free.for_trial("1").seed == seeds["1"]
    assert replace(free, seed=1).for_trial("1").seed != seeds["1"]  # the search's seed matters too
    apart = [_completed(train_child(tiny_genotype, TINY_NET, free.for_trial(t), data)) for t in ("1", "2")]
    assert apart[0].val_loss_history != apart[1].val_loss_history
