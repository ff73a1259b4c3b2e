"""Score cells with the zero-cost proxies: the child as the search builds it, one fixed minibatch.

Every score is a function of (genotype, settings) alone: the network's weights are drawn from
``seed`` and the minibatch is ``batch_size`` CIFAR-10 training images drawn with ``seed``
(`nas.train.data.load_cifar10`'s seeded split, no augmentation), all inside
`torch.random.fork_rng`, so neither the process's RNG state changes a score nor a score the
process's RNG state. Each proxy gets a fresh copy of the same initialized network.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.errors import ConfigError
from nas.model.build import build_any_network
from nas.model.network import NetworkConfig
from nas.proxies.base import PROXIES, Minibatch
from nas.space.load import AnyGenotype
from search_spaces import get_space

DEFAULT_PROXIES = ("synflow", "naswot", "synflow_naswot", "jacov", "grad_norm", "snip", "params", "flops")


def check_proxies(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` if each is a registered proxy (order kept, repeats dropped), else a `ConfigError`."""
    out = tuple(dict.fromkeys(names))
    unknown = [n for n in out if n not in PROXIES]
    if unknown or not out:
        raise ConfigError(
            f"unknown proxy {', '.join(map(repr, unknown)) or '(none given)'}; known: {', '.join(PROXIES)}"
        )
    return out


@dataclass(frozen=True)
class ScoreSettings:
    """What a score depends on besides the genotype. N and C default to the search's child
    (`nas.search.settings.SearchSettings`: N=1, C=8); ``batch_size`` None gives each proxy the batch
    its paper used (64, NASWOT 128)."""

    space: str = "nasnet"
    proxies: tuple[str, ...] = DEFAULT_PROXIES
    N: int = 1
    C: int = 8
    batch_size: int | None = None
    seed: int = 0
    data_dir: str | Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "proxies", check_proxies(self.proxies))
        get_space(self.space)  # an unknown space is a ConfigError naming the known ones
        NetworkConfig(N=self.N, C=self.C)  # N, C range checks
        if self.batch_size is not None and not 2 <= self.batch_size <= 4096:
            raise ConfigError(f"batch_size must be in 2..4096, got {self.batch_size}")

    def batch_for(self, proxy: str) -> int:
        """The minibatch size ``proxy`` gets: ``batch_size``, else its paper's (2 for no data)."""
        return self.batch_size or max(PROXIES[proxy].batch_size, 2)

    def network_config(self) -> NetworkConfig:
        return NetworkConfig(N=self.N, C=self.C)


def build_child(genotype: AnyGenotype, settings: ScoreSettings) -> nn.Module:
    """The network `nas train` and the search build for ``genotype`` (CIFAR layout, no aux head),
    NASNet's or NAS-Bench-201's (`nas.model.build.build_any_network`)."""
    return build_any_network(genotype, settings.network_config())


def load_minibatch(settings: ScoreSettings, size: int) -> Minibatch:
    """``size`` CIFAR-10 training images and labels drawn with ``settings.seed``, normalized."""
    from nas.train.data import load_cifar10, normalize

    data = load_cifar10(settings.data_dir, val_size=1, train_size=size, split_seed=settings.seed)
    return Minibatch(normalize(data.train.images), data.train.labels)


@dataclass
class Scorer:
    """Scores genotypes under one `ScoreSettings`; the minibatch is loaded once."""

    settings: ScoreSettings
    minibatch: Minibatch = field(init=False)
    seconds: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        size = max(self.settings.batch_for(p) for p in self.settings.proxies)
        self.minibatch = load_minibatch(self.settings, size)
        self.seconds = dict.fromkeys(self.settings.proxies, 0.0)

    def score(self, genotype: AnyGenotype) -> dict[str, float]:
        """Each proxy's score of ``genotype`` (higher: predicted better); always finite."""
        seed = self.settings.seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            start = time.perf_counter()
            net = build_child(genotype, self.settings)
            build_s = time.perf_counter() - start
            scores: dict[str, float] = {}
            for name in self.settings.proxies:
                start = time.perf_counter()
                torch.manual_seed(seed)
                value = PROXIES[name].fn(
                    copy.deepcopy(net), self.minibatch.take(self.settings.batch_for(name))
                )
                self.seconds[name] += time.perf_counter() - start + build_s / len(self.settings.proxies)
                if not math.isfinite(value):
                    raise ArithmeticError(f"proxy {name} gave {value} for {genotype.name or 'a cell'}")
                scores[name] = value
        return scores

    def score_all(
        self, genotypes: Sequence[AnyGenotype], progress: Callable[[], Any] | None = None
    ) -> list[dict[str, float]]:
        """`score` of each genotype; ``progress()`` is called after each."""
        out = []
        for genotype in genotypes:
            out.append(self.score(genotype))
            if progress is not None:
                progress()
        return out


def random_genotypes(space: str, n: int, seed: int) -> list[AnyGenotype]:
    """``n`` cells of ``space``, every decision drawn uniformly (as the random searcher does),
    named ``random-<seed>-<i>``."""
    import dataclasses

    decisions = get_space(space).decisions
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        choices = [int(rng.integers(len(d.choices))) for d in decisions]
        genotype = get_space(space).decode(choices)
        assert dataclasses.is_dataclass(genotype) and not isinstance(genotype, type)
        out.append(dataclasses.replace(genotype, name=f"random-{seed}-{i}"))
    return out


def best_by_proxy(space: str, proxy: str, n: int, seed: int, **settings: Any) -> list[AnyGenotype]:
    """``n`` random cells of ``space`` drawn with ``seed``, best ``proxy`` score first (ties keep the
    draw order): the warm start of a search (issue 25). ``settings`` are further `ScoreSettings`
    fields (N, C, batch_size, data_dir)."""
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    scorer = Scorer(ScoreSettings(space=space, proxies=(proxy,), seed=seed, **settings))
    genotypes = random_genotypes(space, n, seed)
    scores = [s[proxy] for s in scorer.score_all(genotypes)]
    order = sorted(range(n), key=lambda i: -scores[i])
    return [genotypes[i] for i in order]
