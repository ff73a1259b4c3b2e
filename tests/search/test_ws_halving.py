"""Candidate scoring by successive halving (`nas.search.halving`): the promised counts per rung, ties,
the floor of candidates kept, the ranking, resume; then on a real supernet (tiny, CPU, real CIFAR-10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.search.halving import Halving, RungScore, ranking


def accuracy_of(index: int, images: int) -> float:
    """A stand-in score: candidate i is better the larger i, seen more sharply on more images."""
    return index / 10_000 + images / 1e9


def test_rungs_score_the_promised_counts() -> None:
    halving = Halving(total_images=5000, screen_images=160, keep=0.25, at_least=2)
    assert halving.rung_images() == [160, 640, 2560, 5000]
    calls: list[tuple[int, int]] = []

    def score(index: int, images: int) -> float:
        calls.append((index, images))
        return accuracy_of(index, images)

    result = halving.run(list(range(1000)), score)
    per_rung = [sum(1 for _, n in calls if n == images) for images in halving.rung_images()]
    assert per_rung == [1000, 250, 63, 16]  # ceil(0.25 n) each rung
    assert len(result) == 1000 and [r.images for r in result[:16]] == [5000] * 16
    assert [r.index for r in result[:16]] == list(range(999, 983, -1))  # the whole-split best first
    assert {i for i, n in calls if n == 640} == set(range(750, 1000))


def test_a_screen_as_large_as_the_split_is_one_rung() -> None:
    halving = Halving(total_images=512, screen_images=640, keep=0.25)
    assert halving.rung_images() == [512]
    result = halving.run(list(range(5)), accuracy_of)
    assert [(r.index, r.rung, r.images) for r in result] == [(i, 0, 512) for i in range(4, -1, -1)]


def test_at_least_keeps_the_candidates_to_verify() -> None:
    halving = Halving(total_images=512, screen_images=32, keep=0.01, at_least=3)
    assert [halving.promoted(n) for n in (1000, 10, 3, 2)] == [10, 3, 3, 2]
    assert Halving(total_images=512, screen_images=32, keep=0.1).promoted(30) == 3  # not 4 by rounding
    result = halving.run(list(range(20)), accuracy_of)
    assert sum(1 for r in result if r.images == 512) == 3
    assert Halving(total_images=512, screen_images=32, keep=0.01).promoted(50) == 1  # never none


def test_ties_promote_the_earlier_candidate() -> None:
    halving = Halving(total_images=64, screen_images=16, keep=0.5)
    result = halving.run(list(range(6)), lambda _i, _n: 0.5)
    assert [r.index for r in result if r.images == 64] == [0, 1, 2]
    assert [r.index for r in result] == [0, 1, 2, 3, 4, 5]


def test_the_whole_split_winner_ranks_above_a_better_screen_score() -> None:
    lucky = [RungScore(0, 0, 160, 0.9), RungScore(1, 1, 512, 0.4), RungScore(2, 1, 512, 0.5)]
    assert [r.index for r in ranking(lucky)] == [2, 1, 0]

    # a candidate whose screen overrates it is dropped on the whole split
    def score(index: int, images: int) -> float:
        return {0: 0.9 if images < 64 else 0.1}.get(index, index / 10)

    result = Halving(total_images=64, screen_images=16, keep=0.5).run(list(range(4)), score)
    assert [r.index for r in result[:2]] == [3, 0] and result[1].accuracy == 0.1


def test_known_scores_are_reused_and_lead_to_the_same_promotions() -> None:
    halving = Halving(total_images=256, screen_images=16, keep=0.25)
    first: list[RungScore] = []
    full = halving.run(list(range(40)), accuracy_of, on_score=first.append)
    done = first[: len(first) // 2]  # a kill halfway
    again: list[RungScore] = []
    resumed = halving.run(
        list(range(40)),
        accuracy_of,
        known={(s.rung, s.index): s.accuracy for s in done},
        on_score=again.append,
    )
    assert resumed == full and done + again == first


@pytest.mark.parametrize(
    "kwargs",
    [{"keep": 0.0}, {"keep": 1.5}, {"screen_images": 0}, {"total_images": 0}, {"eta": 1}],
)
def test_impossible_schedules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="impossible successive-halving"):
        Halving(**{"total_images": 64, "screen_images": 16, "keep": 0.5, **kwargs})  # type: ignore[arg-type]


def test_score_candidates_on_a_real_supernet_writes_rows_and_resumes(tmp_path: Path, cifar_dir: Path) -> None:
    """`score_candidates` with a real (untrained) supernet: screen rows then final rows, the same images
    within a rung, nothing scored twice after a torn resume, and `top_candidates` from the final rows."""
    import torch

    from nas.model.network import NetworkConfig
    from nas.model.supernet import SuperNetwork
    from nas.results.run_folder import atomic_write_text, read_jsonl
    from nas.search.searcher import build_space
    from nas.search.settings import SearchSettings
    from nas.search.weight_sharing import Paths, _supernet_ops, score_candidates, top_candidates
    from nas.train.data import load_cifar10
    from nas.train.weight_sharing import SharedTrainingConfig, SharedWeightTraining

    space = build_space("nasnet", blocks=2)
    data = load_cifar10(cifar_dir, train_size=32, val_size=64, split_seed=0)
    torch.manual_seed(0)
    supernet = SuperNetwork(NetworkConfig(N=1, C=4), num_blocks=2, ops=_supernet_ops(space))
    training = SharedWeightTraining(
        supernet, data, SharedTrainingConfig(epochs=1, reward_batch=8), torch.device("cpu")
    )
    settings = SearchSettings(
        weight_sharing=True, blocks=2, epochs=1, val_size=64, ws_reward_batch=8, ws_screen_batches=2,
        ws_screen_keep=0.5, verify_top=3, ws_candidates=8,
    )  # fmt: skip
    rng = torch.Generator().manual_seed(0)
    candidates = [
        space.decode([int(torch.randint(len(d.choices), (), generator=rng)) for d in space.decisions])
        for _ in range(8)
    ]
    paths = Paths(tmp_path)
    paths.dir.mkdir()
    result = score_candidates(paths, candidates, training, settings)
    rows = read_jsonl(paths.scores)
    assert [(r["stage"], r["images"]) for r in rows] == [("screen", 16)] * 8 + [("final", 64)] * 4
    assert [r["index"] for r in rows[8:]] == sorted(r.index for r in result if r.images == 64)
    for row in (rows[0], rows[8]):  # the same first images for every candidate of a rung
        assert row["accuracy"] == training.score_first(candidates[row["index"]], row["images"])

    atomic_write_text(
        paths.scores, "".join(line + "\n" for line in paths.scores.read_text().splitlines()[:10])
    )
    assert score_candidates(paths, candidates, training, settings) == result
    assert [r["index"] for r in read_jsonl(paths.scores)] == [r["index"] for r in rows]
    best = [r for r in result if r.images == 64][:3]
    assert top_candidates(tmp_path, space, 3) == [candidates[r.index] for r in best]
