"""ENAS's shared-weight loop on the real CIFAR subset: rewards, exact resume from a weights-only
checkpoint, and a clear failure on NaN shared weights."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from controllers.rnn_reinforce import RLSearcher
from nas.model.network import NetworkConfig
from nas.model.supernet import SuperNetwork
from nas.space.genotype import Genotype
from nas.train.data import CifarData, load_cifar10
from nas.train.weight_sharing import SharedTrainingConfig, SharedWeightTraining, SupernetDivergedError
from search_spaces import NasnetSpace

OPS = ("conv_3x3", "skip_connect", "max_pool_3x3", "sep_conv_3x3")  # cheap: the loop is under test
SPACE = NasnetSpace(num_blocks=2, ops=OPS)
CFG = SharedTrainingConfig(
    epochs=2, batch_size=32, lr=0.05, controller_steps=2, archs_per_step=2, reward_batch=32, seed=0
)


@pytest.fixture(scope="module")
def data(cifar_dir: Path) -> CifarData:
    return load_cifar10(cifar_dir, train_size=64, val_size=64, split_seed=0)


def _paths(seed: int) -> list[Genotype]:
    rng = random.Random(seed)
    return [SPACE.decode([rng.randrange(len(d.choices)) for d in SPACE.decisions]) for _ in range(8)]


def _training(data: CifarData, cfg: SharedTrainingConfig = CFG) -> SharedWeightTraining:
    torch.manual_seed(0)
    supernet = SuperNetwork(NetworkConfig(N=1, C=4), num_blocks=2, ops=OPS)
    return SharedWeightTraining(supernet, data, cfg, torch.device("cpu"))


def test_an_epoch_trains_the_shared_weights_and_tells_the_searcher(data: CifarData) -> None:
    training = _training(data)
    searcher = RLSearcher(SPACE, seed=0, batch_size=2)
    before = {k: v.clone() for k, v in training.supernet.state_dict().items()}
    paths = iter(_paths(0))
    report = training.run_epoch(lambda: next(paths), searcher)
    assert report.epoch == training.epoch == 1
    assert len(report.scored) == 4 and all(0.0 <= s.accuracy <= 1.0 for s in report.scored)
    assert all(s.images == 32 for s in report.scored)
    assert searcher.ledger.counts["completed"] == 4 and searcher.num_updates == 2
    assert report.train_loss > 0 and 0.0 <= report.train_accuracy <= 1.0
    changed = [k for k, v in training.supernet.state_dict().items() if not torch.equal(v, before[k])]
    assert "classifier.weight" in changed and "stem.0.weight" in changed
    assert 0.0 <= training.score(report.scored[0].genotype) <= 1.0  # the whole validation split


def test_resume_from_a_weights_only_checkpoint_continues_exactly(data: CifarData) -> None:
    paths = _paths(1)
    straight, searcher = _training(data), RLSearcher(SPACE, seed=0, batch_size=2)
    stream = iter(paths)
    for _ in range(2):
        last = straight.run_epoch(lambda: next(stream), searcher)

    first, searcher = _training(data), RLSearcher(SPACE, seed=0, batch_size=2)
    stream = iter(paths)
    first.run_epoch(lambda: next(stream), searcher)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed, searcher_2 = _training(data), RLSearcher(SPACE, seed=0, batch_size=2)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    searcher_2.load_state_dict(searcher.state_dict())
    again = resumed.run_epoch(lambda: next(stream), searcher_2)

    assert again.epoch == 2
    assert [s.accuracy for s in again.scored] == [s.accuracy for s in last.scored]
    for key, value in straight.supernet.state_dict().items():
        assert torch.equal(value, resumed.supernet.state_dict()[key]), key


def test_scoring_side_by_side_gives_the_same_rewards_and_scores_in_order(data: CifarData) -> None:
    """Two scoring threads (`SharedWeightTraining.map`) against one: the same phase (b) rewards in the
    same order, the same searcher afterwards, the same halving scores, and torch's thread count back."""
    from nas.search.halving import Halving

    runs = []
    for workers in (1, 2):
        training = _training(data, replace(CFG, score_workers=workers))
        searcher = RLSearcher(SPACE, seed=0, batch_size=2)
        stream = iter(_paths(2))
        threads = torch.get_num_threads()
        report = training.run_epoch(lambda: next(stream), searcher)  # noqa: B023 (called here)
        halving = Halving(total_images=64, screen_images=16, keep=0.5)
        scores = halving.run(_paths(3), training.score_first, map_fn=training.map)
        assert torch.get_num_threads() == threads
        runs.append(([(s.genotype, s.accuracy) for s in report.scored], scores, searcher.state_dict()))
    assert runs[0] == runs[1]
    assert len({a for _, a in runs[0][0]}) > 1  # the rewards differ between paths: not a constant


def test_nan_shared_weights_fail_the_run_naming_the_epoch(data: CifarData) -> None:
    training = _training(data)
    searcher = RLSearcher(SPACE, seed=0, batch_size=2)
    paths = iter(_paths(2))
    training.run_epoch(lambda: next(paths), searcher)
    with torch.no_grad():
        training.supernet.stem[0].weight.fill_(float("nan"))
    with pytest.raises(SupernetDivergedError, match="supernet epoch 2"):
        training.run_epoch(lambda: next(paths), searcher)
