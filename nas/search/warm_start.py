"""``nas search --warm-start PROXY:N[:K]``: the search's first K children are the best of N random
cells by a zero-cost proxy (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021,
Sec. 5, warm-starts evolution and RL this way; issue 25).

The N cells are drawn uniformly with the search's seed, scored once on the driver (a fraction of a
second each), and the best K written to the run folder's ``warm_start.json`` before the first child:
a resumed search reads them from there and never scores again, and which of them were already
proposed is the searcher's ledger (`Searcher.ask_with` asks are journaled as such), so each is
proposed exactly once across kills.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.errors import ConfigError, shown
from nas.results.run_folder import RunFolder, read_json, write_json
from nas.space.protocol import SearchSpace

DEFAULT_K = 4
"""Warm children when ``:K`` is not given: the default searchers' start-up size (rl's first batch of
4, tpe's 4 start-up trials, half of evolution's population of 8), capped at N."""


@dataclass(frozen=True)
class WarmStart:
    """A parsed ``--warm-start`` value: score ``n`` random cells with ``proxy``, start with the best ``k``."""

    proxy: str
    n: int
    k: int

    @classmethod
    def parse(cls, text: str) -> WarmStart:
        """``PROXY:N`` or ``PROXY:N:K``; anything else, an unknown proxy, N < 1 or K outside 1..N is a
        `ConfigError` naming the flag."""
        from nas.proxies import PROXIES

        parts = text.split(":")
        usage = f"--warm-start: expected PROXY:N or PROXY:N:K (e.g. synflow:200), got {shown(text)}"
        if len(parts) not in (2, 3) or not all(p.strip().isdigit() for p in parts[1:]):
            raise ConfigError(usage)
        proxy, n = parts[0], int(parts[1])
        if proxy not in PROXIES:
            raise ConfigError(f"--warm-start: unknown proxy {shown(proxy)}; known: {', '.join(PROXIES)}")
        if not 1 <= n <= 100_000:
            raise ConfigError(f"--warm-start: N must be in 1..100000, got {n}")
        k = int(parts[2]) if len(parts) == 3 else min(DEFAULT_K, n)
        if not 1 <= k <= n:
            raise ConfigError(f"--warm-start: K must be in 1..N ({n}), got {k}")
        return cls(proxy, n, k)


def warm_cells(
    warm: WarmStart, space: SearchSpace, *, space_name: str, seed: int, N: int, C: int, data_dir: str | None
) -> list[dict[str, Any]]:
    """The best ``warm.k`` of ``warm.n`` uniformly drawn cells by the proxy, best first (ties keep the
    draw order): each ``{"choices", "genotype", "score"}``; the child is built as the search builds it
    (``N``, ``C``)."""
    import numpy as np

    from nas.proxies.score import Scorer, ScoreSettings

    rng = np.random.default_rng(seed)
    sizes = [len(d.choices) for d in space.decisions]
    drawn = [[int(rng.integers(n)) for n in sizes] for _ in range(warm.n)]
    scorer = Scorer(
        ScoreSettings(space=space_name, proxies=(warm.proxy,), seed=seed, N=N, C=C, data_dir=data_dir)
    )
    genotypes = [space.decode(choices) for choices in drawn]
    scores = [s[warm.proxy] for s in scorer.score_all(genotypes)]  # type: ignore[arg-type]
    order = sorted(range(warm.n), key=lambda i: -scores[i])[: warm.k]
    return [
        {"choices": drawn[i], "genotype": genotypes[i].to_json(indent=None), "score": scores[i]}
        for i in order
    ]


def load_or_score(run: RunFolder, warm: WarmStart, space: SearchSpace, **kwargs: Any) -> list[dict[str, Any]]:
    """The run folder's warm cells, scored and written on the first attempt, read back on a resume."""
    path = run.warm_start
    if path.exists():
        record = read_json(path)
        if (record.get("proxy"), record.get("n"), record.get("k")) != (warm.proxy, warm.n, warm.k):
            raise ConfigError(f"{path}: scored for another --warm-start than {warm.proxy}:{warm.n}:{warm.k}")
        return list(record["cells"])
    cells = warm_cells(warm, space, **kwargs)
    write_json(path, {"proxy": warm.proxy, "n": warm.n, "k": warm.k, "cells": cells})
    return cells
