"""`nas search --weight-sharing`: ENAS's search (Pham et al. 2018) in two stages, one command.

1. **Supernet stage**, one Ray task (one GPU when the cluster has one, so ``--address`` and ``nas
   submit`` work unchanged): `nas.train.weight_sharing` trains the shared weights of
   `nas.model.supernet.SuperNetwork` for ``--epochs`` epochs, each followed by the searcher's
   updates rewarded with one validation minibatch. Then ``--ws-candidates`` architectures asked of
   the trained searcher are scored on the whole validation split with the shared weights.
2. **Verification**: the top ``--verify-top`` candidates are trained as ordinary stand-alone children
   through `nas.search.runner.run_search` (same trainer, leaderboard, W&B and report); a
   `VerifyList` searcher proposes them in order.

Which architectures train the shared weights (phase (a)): ``rl`` samples its controller's current
policy, as ENAS does, from a generator of its own so the controller's sampling stream is untouched;
``random`` samples uniformly (Li & Talwalkar 2019's random search with weight sharing, RSWS);
``evolution`` and ``tpe`` have no distribution to sample without asking, so they train on uniform
paths too (single-path one-shot training, Guo et al. 2019) and search on the result. Deviation for
``tpe``/``random``: the stage's Optuna study is in memory (its JSON state is the checkpoint), so
the stage resumes exactly; TPE's cost per ask grows with the study.

Run folder additions::

    supernet/checkpoint.pt      supernet, optimizer, schedule and RNG states (``weights_only=True``)
    supernet/searcher-<E>.json  the searcher after epoch E (JSON; the previous one is kept until the
                                checkpoint of E is written, so a kill never pairs mismatched states)
    supernet/epochs.jsonl       one line per epoch: loss, accuracy, rewards, seconds
    supernet/candidates.json    the candidates to score, fixed once the last epoch ends
    ws_scores.jsonl             every architecture scored with shared weights: stage ``search``
                                (its minibatch reward, with its epoch) or ``final`` (whole split)

Resume (kill -9 included): the stage restarts from the last checkpoint, drops the score rows of an
epoch the kill interrupted, scores only the candidates not yet scored, and verification resumes as
any search does (`nas.search.tune_adapter`), so nothing is verified twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nas.errors import ConfigError, NasError
from nas.results.run_folder import RunFolder, atomic_write_text, read_json, read_jsonl, write_json
from nas.results.trial import TrialResult
from nas.search.searcher import Proposal, Searcher, SearchSpace
from nas.search.settings import SearchSettings
from nas.space.genotype import Genotype

logger = logging.getLogger(__name__)

WS_FLAGS = (
    "verify_top",
    "verify_epochs",
    "ws_candidates",
    "ws_controller_steps",
    "ws_archs_per_step",
    "ws_reward_batch",
)
"""Settings that mean something only with ``--weight-sharing``."""

ENAS_RL_OPTIONS = {"baseline_decay": 0.99, "entropy_weight": 1e-4}
"""ENAS's controller settings (released code), used unless ``--searcher-option`` says otherwise."""


def check_flags(values: Mapping[str, Any]) -> None:
    """Refuse flag combinations that cannot mean what the user wants (``values``: the flags given)."""
    if values.get("weight_sharing"):
        if "trials" in values:
            raise ConfigError(
                "--trials counts stand-alone children; with --weight-sharing use --epochs (supernet "
                "epochs) and --verify-top K (children trained)"
            )
        return
    given = [f"--{k.replace('_', '-')}" for k in WS_FLAGS if k in values]
    if given:
        raise ConfigError(f"{', '.join(given)} only apply with --weight-sharing")


class VerifyList(Searcher):
    """Proposes a fixed list of genotypes in order: the stage-2 children (`nas.search.runner`'s searcher)."""

    def __init__(self, space: SearchSpace, *, seed: int, genotypes: Sequence[Genotype]) -> None:
        super().__init__(space, seed=seed)
        self.genotypes = list(genotypes)
        self._encode: Callable[[Genotype], list[int]] = space.encode  # type: ignore[attr-defined]

    def ask(self) -> Proposal:
        i = self.ledger.num_asked
        if i >= len(self.genotypes):
            raise NasError(f"all {len(self.genotypes)} candidates to verify were asked already")
        return self.ledger.propose(self.space, f"v{i}", self._encode(self.genotypes[i]))

    def tell(self, trial_id: str, result: TrialResult) -> None:
        self.ledger.close(trial_id, result)

    def state_dict(self) -> dict[str, Any]:
        return {**self._state_header(), "genotypes": [g.to_dict() for g in self.genotypes]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        saved = [Genotype.from_dict(g) for g in state["genotypes"]]
        if saved != self.genotypes:
            raise ConfigError("searcher state: the saved candidates to verify differ from this run's")


class PathSampler:
    """Phase (a)'s architectures: ``rl`` samples its policy, the others uniformly (module docstring)."""

    def __init__(self, searcher: Searcher, space: Any, seed: int) -> None:
        import torch

        from controllers.rnn_reinforce import RLSearcher

        self.space = space
        self.generator = torch.Generator().manual_seed(seed + 2)
        self.policy = searcher.policy if isinstance(searcher, RLSearcher) else None
        self.sizes = [len(d.choices) for d in space.decisions]

    def __call__(self) -> Genotype:
        import torch

        if self.policy is not None:
            with torch.no_grad():
                choices = self.policy.rollout(1, generator=self.generator).actions[0].tolist()
        else:
            choices = [int(torch.randint(n, (1,), generator=self.generator)) for n in self.sizes]
        return self.space.decode(choices)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class StageOutcome:
    """What the supernet stage did; the CLI adds it to the search's summary."""

    supernet_epochs: int
    candidates_scored: int
    best_ws_score: float | None
    supernet_wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Paths:
    """The stage's files in a run folder (see the module docstring)."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "supernet"
        self.checkpoint = self.dir / "checkpoint.pt"
        self.epochs = self.dir / "epochs.jsonl"
        self.candidates = self.dir / "candidates.json"
        self.scores = run_dir / "ws_scores.jsonl"

    def searcher(self, epoch: int) -> Path:
        return self.dir / f"searcher-{epoch}.json"


def _append_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows in place (a stage writes ~300 per epoch, 45,000 in ENAS's budget: rewriting the file
    each time would be quadratic). A kill may tear the last line; `_clean_after` repairs that on resume."""
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
        f.flush()
        os.fsync(f.fileno())


def _stage_searcher(settings: SearchSettings, space: Any) -> Searcher:
    from nas.search.searcher import create_searcher

    options = dict(settings.searcher_options)
    if settings.searcher == "rl":
        options = {**ENAS_RL_OPTIONS, **options}
    options.pop("storage_path", None)  # in memory: the JSON state is the checkpoint
    return create_searcher(settings.searcher, space, seed=settings.seed, **options)


def train_supernet(settings_dict: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """The supernet stage (the Ray task's body): train, checkpoint each epoch, score the candidates."""
    import torch

    from nas.model.network import NetworkConfig
    from nas.model.supernet import SuperNetwork
    from nas.train.data import load_cifar10
    from nas.train.trainer import resolve_device
    from nas.train.weight_sharing import SharedTrainingConfig, SharedWeightTraining
    from search_spaces import get_nasnet_space  # the supernet shares NASNet ops

    started = time.perf_counter()
    settings = SearchSettings.from_dict(settings_dict)
    paths = Paths(Path(run_dir))
    paths.dir.mkdir(parents=True, exist_ok=True)
    space = get_nasnet_space(settings.space, num_blocks=settings.blocks)
    data = load_cifar10(
        settings.data_dir,
        train_size=settings.train_size,
        val_size=settings.val_size,
        split_seed=settings.seed,
    )
    cfg = SharedTrainingConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        controller_steps=settings.ws_controller_steps,
        archs_per_step=settings.ws_archs_per_step,
        reward_batch=settings.ws_reward_batch,
        seed=settings.seed,
    )
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        supernet = SuperNetwork(
            NetworkConfig(N=settings.N, C=settings.C), num_blocks=settings.blocks, ops=space.ops
        )
    training = SharedWeightTraining(supernet, data, cfg, resolve_device("auto"))
    searcher = _stage_searcher(settings, space)
    sampler = PathSampler(searcher, space, settings.seed)
    if paths.checkpoint.exists():
        state = torch.load(paths.checkpoint, weights_only=True, map_location="cpu")
        training.load_state_dict(state["training"])
        sampler.generator.set_state(state["sampler_rng"])
        searcher.load_state_dict(read_json(paths.searcher(training.epoch)))
        logger.info("supernet stage resumes after epoch %d", training.epoch)
    _clean_after(paths, training.epoch)
    for _ in range(training.epoch, cfg.epochs):
        report = training.run_epoch(sampler, searcher)
        rows = [{"stage": "search", "epoch": report.epoch, **s.to_dict()} for s in report.scored]
        _append_rows(paths.scores, rows)
        write_json(paths.searcher(report.epoch), searcher.state_dict())
        _save_checkpoint(
            paths.checkpoint,
            {"training": training.state_dict(), "sampler_rng": sampler.generator.get_state()},
        )
        paths.searcher(report.epoch - 1).unlink(missing_ok=True)
        _append_rows(paths.epochs, [report.summary()])
    candidates = _candidates(paths, searcher, settings.ws_candidates)
    done = {r["index"] for r in read_jsonl(paths.scores) if r["stage"] == "final"}
    for index, genotype in enumerate(candidates):
        if index not in done:
            row = {"stage": "final", "epoch": cfg.epochs, "index": index, "trial_id": f"c{index}"}
            _append_rows(
                paths.scores,
                [
                    {
                        **row,
                        "genotype": genotype.to_dict(),
                        "accuracy": training.score(genotype),
                        "images": len(training.val),
                    }
                ],
            )
    searcher.close()
    final = [r["accuracy"] for r in read_jsonl(paths.scores) if r["stage"] == "final"]
    return StageOutcome(
        cfg.epochs, len(final), max(final, default=None), time.perf_counter() - started
    ).to_dict()


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _clean_after(paths: Paths, epoch: int) -> None:
    """Before a stage (re)starts: forget what an epoch interrupted by a kill wrote (its rows are redone)
    and a line torn by the kill, rewriting each file once, atomically."""
    for path in (paths.scores, paths.epochs):
        if path.exists():
            kept = [r for r in read_jsonl(path) if r.get("stage") == "final" or int(r["epoch"]) <= epoch]
            atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _candidates(paths: Paths, searcher: Searcher, n: int) -> list[Genotype]:
    """``n`` architectures asked of the trained searcher (distinct), fixed on disk before scoring."""
    if not paths.candidates.exists():
        seen: dict[str, Genotype] = {}
        for _ in range(n):
            genotype = searcher.ask().genotype
            seen.setdefault(genotype.to_json(indent=None), genotype)
        write_json(paths.candidates, [g.to_dict() for g in seen.values()])
    return [Genotype.from_dict(g) for g in read_json(paths.candidates)]


def top_candidates(run_dir: Path, k: int) -> list[Genotype]:
    """The ``k`` best-scored final candidates (whole validation split, shared weights), best first."""
    rows = [r for r in read_jsonl(Paths(run_dir).scores) if r["stage"] == "final"]
    rows.sort(key=lambda r: (-float(r["accuracy"]), int(r["index"])))
    return [Genotype.from_dict(r["genotype"]) for r in rows[:k]]


def describe_epoch(row: Mapping[str, Any], epochs: int) -> str:
    """One line for a finished supernet epoch (the CLI's live view of the stage)."""
    return (
        f"supernet epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.3f}, "
        f"train acc {row['train_accuracy']:.3f}, reward mean {row['mean_reward']:.3f} "
        f"max {row['max_reward']:.3f} ({row['train_s'] + row['search_s']:.0f} s)"
    )


def run_stage(
    settings: SearchSettings, run: RunFolder, *, on_epoch: Callable[[Mapping[str, Any]], None] | None = None
) -> StageOutcome:
    """Run the supernet stage as one Ray task (Ray connected), showing each finished epoch."""
    import ray

    gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0  # type: ignore[no-untyped-call]
    task = ray.remote(num_cpus=settings.cpus_per_trial, num_gpus=gpus, max_retries=0)(train_supernet)
    ref = task.remote(settings.to_dict(), str(run.path.resolve()))
    paths, shown = Paths(run.path), len(read_jsonl(Paths(run.path).epochs))
    while True:
        ready, _ = ray.wait([ref], timeout=2.0)
        rows = read_jsonl(paths.epochs)
        for row in rows[shown:]:
            if on_epoch is not None:
                on_epoch(row)
        shown = max(shown, len(rows))
        if ready:
            break
    try:
        return StageOutcome(**ray.get(ref))
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, NasError):  # e.g. SupernetDivergedError: one line, the epoch named
            raise NasError(str(exc.cause)) from None
        raise


def verification(settings: SearchSettings, run: RunFolder) -> tuple[SearchSettings, Searcher]:
    """The stage-2 settings (``trials`` = ``verify_top``, ``epochs`` = ``verify_epochs``) and searcher."""
    from search_spaces import get_nasnet_space  # the supernet shares NASNet ops

    space = get_nasnet_space(settings.space, num_blocks=settings.blocks)
    verifier = VerifyList(space, seed=settings.seed, genotypes=top_candidates(run.path, settings.verify_top))
    # Its state is restored by the Tune adapter, from the run's snapshot and journal, like any searcher's.
    return replace(settings, trials=len(verifier.genotypes), epochs=settings.verify_epochs), verifier
