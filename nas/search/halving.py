"""Candidate scoring by successive halving (Jamieson & Talwalkar 2016, arXiv 1502.07943).

Li & Talwalkar (2019, arXiv 1902.07638, random search with weight sharing) score each of 1,000
candidates on a few validation minibatches under the shared weights and only the best on the whole
validation split. Successive halving generalises that: rung 0 scores every candidate on the first
``screen_images`` validation images; the best ``keep`` fraction moves on to a rung with ``eta`` times
the images, and so on until a rung covers the whole split. A screen's scores are noisy (a 160-image
accuracy is worth about +-3.5 points), so the final ranking puts every candidate scored on the whole
split above every candidate that was not: it is by (images scored, accuracy), best first.

Common random numbers: within a rung every candidate sees the same images, the first ``n`` of the
validation split in its fixed order (the split is a seeded random draw), so differences between
candidates are the candidates'. The function is pure over a ``score(candidate, n_images)`` callable;
``known`` scores (a resumed stage's) are reused, never recomputed, and the promotions they lead to
are the same, so a resumed stage scores only what was not yet scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

ETA = 4
"""Images multiply by ``ETA`` from one rung to the next (Jamieson & Talwalkar's eta)."""


@dataclass(frozen=True)
class RungScore:
    """Candidate ``index``'s accuracy on the first ``images`` validation images, in rung ``rung``."""

    index: int
    rung: int
    images: int
    accuracy: float


@dataclass(frozen=True)
class Halving:
    """A successive-halving schedule over ``total_images`` validation images (see the module docstring).

    ``keep``: the fraction of a rung's candidates promoted, in (0, 1]; ``at_least``: the fewest
    promoted (never below 1), so the final rung still holds e.g. the candidates to verify.
    """

    total_images: int
    screen_images: int
    keep: float
    at_least: int = 1
    eta: int = ETA

    def __post_init__(self) -> None:
        if not (self.total_images >= 1 and self.screen_images >= 1 and 0 < self.keep <= 1 and self.eta >= 2):
            raise ValueError(f"impossible successive-halving schedule: {self}")

    def rung_images(self) -> list[int]:
        """Images per rung: ``screen_images`` times the powers of ``eta`` below the split, then the split."""
        sizes, n = [], self.screen_images
        while n < self.total_images:
            sizes.append(n)
            n *= self.eta
        return [*sizes, self.total_images]

    def promoted(self, n: int) -> int:
        """How many of a rung's ``n`` candidates move on: ceil(keep * n), at least ``at_least`` and 1."""
        share = math.ceil(round(self.keep * n, 9))  # round: 0.1 * 30 is 3.0000000000000004, not 4
        return min(n, max(1, self.at_least, share))

    def run(
        self,
        candidates: Sequence[T],
        score: Callable[[T, int], float],
        *,
        known: Mapping[tuple[int, int], float] | None = None,
        on_score: Callable[[RungScore], None] | None = None,
        map_fn: Callable[[Callable[[int], float], Iterable[int]], Iterator[float]] = map,
    ) -> list[RungScore]:
        """Score ``candidates`` rung by rung; returns each candidate's last score, best first.

        ``score(candidate, n)``: its accuracy on the first ``n`` validation images. ``known``:
        (rung, index) -> accuracy already scored (not scored again, not passed to ``on_score``);
        ``on_score`` sees each new score as soon as it exists (the caller appends it to its file),
        in candidate order. ``map_fn(fn, indices)`` runs a rung's new scores, results in order: the
        builtin ``map`` one at a time, or the supernet stage's threads side by side.
        """
        known = known or {}
        alive = list(range(len(candidates)))
        last: dict[int, RungScore] = {}
        sizes = self.rung_images()
        for rung, images in enumerate(sizes):
            for index in alive:
                if (rung, index) in known:
                    last[index] = RungScore(index, rung, images, known[rung, index])
            fresh = [i for i in alive if (rung, i) not in known]
            scores = map_fn(lambda i: score(candidates[i], images), fresh)  # noqa: B023 (used up below)
            for index, accuracy in zip(fresh, scores, strict=True):
                last[index] = RungScore(index, rung, images, accuracy)
                if on_score is not None:
                    on_score(last[index])
            if rung + 1 < len(sizes):
                alive.sort(key=lambda i: (-last[i].accuracy, i))  # ties: the earlier candidate
                alive = sorted(alive[: self.promoted(len(alive))])
        return ranking(last.values())


def ranking(scores: Iterable[RungScore]) -> list[RungScore]:
    """Best first by (images scored, accuracy), ties by index: only a candidate scored on the most
    images (the whole split) can rank first."""
    return sorted(scores, key=lambda s: (-s.images, -s.accuracy, s.index))
