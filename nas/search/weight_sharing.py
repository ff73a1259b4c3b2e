"""`nas search --weight-sharing`: ENAS's search (Pham et al. 2018) in two stages, one command.

1. **Supernet stage**, one Ray task with every CPU of the largest node (torch threads as many for
   training, as many threads scoring architectures side by side on the CPU) and one GPU when the
   cluster has one, so ``--address`` and ``nas submit`` work unchanged:
   `nas.train.weight_sharing` trains the shared weights of `nas.model.supernet.SuperNetwork` for
   ``--epochs`` epochs, each followed by the searcher's updates rewarded with one validation
   minibatch. Then ``--ws-candidates`` architectures asked of the trained searcher are scored with
   the shared weights by successive halving (`nas.search.halving`, Li & Talwalkar 2019): all on
   ``--ws-screen-batches`` reward minibatches, the best ``--ws-screen-keep`` on 4x the images, and so
   on up to the whole validation split.
2. **Verification**: the top ``--verify-top`` candidates on the whole split are trained as ordinary
   stand-alone children through `nas.search.runner.run_search` (same trainer, leaderboard, W&B and
   report); a `VerifyList` searcher proposes them in order.

Which architectures train the shared weights (phase (a)) is the searcher's `Searcher.path_sampler`:
``rl`` samples its controller's current policy, as ENAS does, from a generator of its own so the
controller's sampling stream is untouched; the others sample uniformly (Li & Talwalkar 2019's random
search with weight sharing; single-path one-shot training, Guo et al. 2019) and search on the result.
The searcher is built with its `Searcher.weight_sharing_options` (``rl``: ENAS's CIFAR controller)
and bound to no run folder: deviation for ``tpe``, the stage's Optuna study is in memory (its JSON
state is the checkpoint), so the stage resumes exactly; TPE's cost per ask grows with the study.

Run folder additions::

    supernet/checkpoint.pt      supernet, optimizer, schedule and RNG states (``weights_only=True``)
    supernet/searcher-<E>.json  the searcher after epoch E (JSON; the previous one is kept until the
                                checkpoint of E is written, so a kill never pairs mismatched states)
    supernet/epochs.jsonl       one line per epoch: loss, accuracy, rewards, seconds
    supernet/candidates.json    the candidates to score, fixed once the last epoch ends
    ws_scores.jsonl             every architecture scored with shared weights: stage ``search``
                                (its minibatch reward, with its epoch), ``screen`` (a halving rung
                                below the whole split: ``rung``, ``images``) or ``final`` (whole split)

Resume (kill -9 included): the stage restarts from the last checkpoint, drops the score rows of an
epoch the kill interrupted, scores only the (rung, candidate) pairs not yet scored (the halving's
promotions follow from the scores on file, so they are the same), and verification resumes as
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
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError, NasError
from nas.results.run_folder import RunFolder, atomic_write_text, read_json, read_jsonl, write_json
from nas.results.trial import TrialResult
from nas.search.halving import Halving, RungScore
from nas.search.settings import SearchSettings
from nas.searcher.base import Proposal, Searcher
from nas.searcher.checkpoint import SearcherCheckpoint
from nas.space.protocol import GenotypeLike, SearchSpace

if TYPE_CHECKING:
    from nas.train.weight_sharing import SharedWeightTraining

logger = logging.getLogger(__name__)

WS_FLAGS = (
    "verify_top",
    "verify_epochs",
    "ws_candidates",
    "ws_controller_steps",
    "ws_archs_per_step",
    "ws_reward_batch",
    "ws_screen_batches",
    "ws_screen_keep",
)
"""Settings that mean something only with ``--weight-sharing``."""


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

    def __init__(self, space: SearchSpace, *, seed: int, genotypes: Sequence[GenotypeLike]) -> None:
        super().__init__(space, seed=seed)
        self.genotypes = list(genotypes)

    def ask(self) -> Proposal:
        i = self.ledger.num_asked
        if i >= len(self.genotypes):
            raise NasError(f"all {len(self.genotypes)} candidates to verify were asked already")
        return self.ledger.propose(self.space, f"v{i}", self.space.encode(self.genotypes[i]))

    def tell(self, trial_id: str, result: TrialResult) -> None:
        self.ledger.close(trial_id, result)

    def state_dict(self) -> dict[str, Any]:
        return {**self._state_header(), "genotypes": [g.to_dict() for g in self.genotypes]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        if list(state["genotypes"]) != [g.to_dict() for g in self.genotypes]:
            raise ConfigError("searcher state: the saved candidates to verify differ from this run's")


@dataclass(frozen=True)
class StageOutcome:
    """What the supernet stage did; the CLI adds it to the search's summary."""

    supernet_epochs: int
    candidates_scored: int
    best_ws_score: float | None
    supernet_wall_s: float
    scoring_s: float = 0.0

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

    def searcher_file(self, epoch: int) -> SearcherCheckpoint:
        """The searcher after ``epoch``: a snapshot in the search's own format, read by the same reader
        (`nas.results.run_folder.read_searcher_journal`); the stage journals nothing between epochs."""
        return SearcherCheckpoint(self.searcher(epoch), self.dir / "searcher_journal.jsonl")


def _append_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows in place (a stage writes ~300 per epoch, 45,000 in ENAS's budget: rewriting the file
    each time would be quadratic). A kill may tear the last line; `_clean_after` repairs that on resume."""
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
        f.flush()
        os.fsync(f.fileno())


def stage_searcher(settings: SearchSettings, space: SearchSpace) -> Searcher:
    """The stage's searcher: its `Searcher.weight_sharing_options` under the user's ``--searcher-option``s,
    bound to no run folder (its whole history is in its JSON state, the stage's checkpoint)."""
    from nas.search.searcher import create_searcher, searcher_class

    cls = searcher_class(settings.searcher)
    options = {**cls.weight_sharing_options(settings.ws_archs_per_step), **settings.searcher_options}
    return create_searcher(settings.searcher, space, seed=settings.seed, **options)


def train_supernet(settings_dict: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """The supernet stage (`stage_task`'s body): train, checkpoint each epoch, score the candidates."""
    import torch

    from nas.model.network import NetworkConfig
    from nas.model.supernet import SuperNetwork
    from nas.search.searcher import build_space
    from nas.train.data import load_cifar10
    from nas.train.trainer import resolve_device
    from nas.train.weight_sharing import SharedTrainingConfig, SharedWeightTraining

    started = time.perf_counter()
    settings = SearchSettings.from_dict(settings_dict)
    paths = Paths(Path(run_dir))
    paths.dir.mkdir(parents=True, exist_ok=True)
    space = build_space(settings.space, blocks=settings.blocks)
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
        score_workers=torch.get_num_threads(),  # the task's CPUs (`stage_task`)
    )
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        supernet = SuperNetwork(
            NetworkConfig(N=settings.N, C=settings.C), num_blocks=settings.blocks, ops=_supernet_ops(space)
        )
    training = SharedWeightTraining(supernet, data, cfg, resolve_device("auto"))
    searcher = stage_searcher(settings, space)
    sampler = searcher.path_sampler(settings.seed + 2)
    if paths.checkpoint.exists():
        state = torch.load(paths.checkpoint, weights_only=True, map_location="cpu")
        training.load_state_dict(state["training"])
        sampler.load_state_dict(state["sampler"])
        paths.searcher_file(training.epoch).restore(searcher)
        logger.info("supernet stage resumes after epoch %d", training.epoch)
    _clean_after(paths, training.epoch)
    for _ in range(training.epoch, cfg.epochs):
        report = training.run_epoch(lambda: space.decode(sampler()), searcher)
        rows = [{"stage": "search", "epoch": report.epoch, **s.to_dict()} for s in report.scored]
        _append_rows(paths.scores, rows)
        paths.searcher_file(report.epoch).snapshot(searcher)
        _save_checkpoint(
            paths.checkpoint,
            {"training": training.state_dict(), "sampler": sampler.state_dict()},
        )
        paths.searcher(report.epoch - 1).unlink(missing_ok=True)
        _append_rows(paths.epochs, [report.summary()])
    scoring_started = time.perf_counter()
    candidates = _candidates(paths, searcher, space, settings.ws_candidates)
    scores = score_candidates(paths, candidates, training, settings)
    searcher.close()
    best = max((r.accuracy for r in scores if r.images == len(training.val)), default=None)
    return StageOutcome(
        cfg.epochs,
        len(candidates),
        best,
        time.perf_counter() - started,
        scoring_s=time.perf_counter() - scoring_started,
    ).to_dict()


def score_candidates(
    paths: Paths, candidates: Sequence[GenotypeLike], training: SharedWeightTraining, settings: SearchSettings
) -> list[RungScore]:
    """Score ``candidates`` by successive halving (`nas.search.halving`) on the first images of the
    validation split, appending one ``ws_scores.jsonl`` row per score as it is made: stage ``screen``
    below the whole split, ``final`` on it. Scores already in the file (a resumed stage's) are reused."""
    images = len(training.val)
    halving = Halving(
        total_images=images,
        screen_images=min(settings.ws_screen_batches * settings.ws_reward_batch, images),
        keep=settings.ws_screen_keep,
        at_least=settings.verify_top,
    )
    final_rung = len(halving.rung_images()) - 1
    known = {
        (final_rung if r["stage"] == "final" else int(r["rung"]), int(r["index"])): float(r["accuracy"])
        for r in read_jsonl(paths.scores)
        if r["stage"] in ("screen", "final")
    }

    def record(s: RungScore) -> None:
        stage = "final" if s.images == images else "screen"
        row = {"stage": stage, "epoch": settings.epochs, "rung": s.rung, "index": s.index}
        row |= {"trial_id": f"c{s.index}", "genotype": candidates[s.index].to_dict()}
        _append_rows(paths.scores, [{**row, "accuracy": s.accuracy, "images": s.images}])

    return halving.run(candidates, training.score_first, known=known, on_score=record, map_fn=training.map)


def stage_task(settings_dict: dict[str, Any], run_dir: str, threads: int) -> dict[str, Any]:
    """The Ray task: `train_supernet` with as many torch threads as the CPUs the task was given."""
    import torch

    torch.set_num_threads(threads)
    return train_supernet(settings_dict, run_dir)


def _supernet_ops(space: SearchSpace) -> tuple[str, ...]:
    """The ops every slot of the NASNet supernet holds: the choices of the space's op decisions."""
    ops = {d.choices for d in space.decisions if d.kind in ("op_a", "op_b")}
    if len(ops) != 1:
        raise ConfigError(
            f"--weight-sharing trains a NASNet supernet; space {space.name!r} has no NASNet op slots"
        )
    return ops.pop()


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
            kept = [
                r
                for r in read_jsonl(path)
                if r.get("stage") in ("screen", "final") or int(r["epoch"]) <= epoch
            ]
            atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _candidates(paths: Paths, searcher: Searcher, space: SearchSpace, n: int) -> list[GenotypeLike]:
    """``n`` architectures asked of the trained searcher, fixed on disk before scoring; one of each
    network (`SearchSpace.canonical`), so no cell is scored, or verified, twice."""
    if not paths.candidates.exists():
        seen: dict[str, GenotypeLike] = {}
        for _ in range(n):
            genotype = searcher.ask().genotype
            seen.setdefault(space.canonical(genotype), genotype)
        write_json(paths.candidates, [g.to_dict() for g in seen.values()])
    return [space.genotype_from_json(g) for g in read_json(paths.candidates)]


def top_candidates(run_dir: Path, space: SearchSpace, k: int) -> list[GenotypeLike]:
    """The ``k`` best-scored final candidates (whole validation split, shared weights), best first;
    a candidate only screened on fewer images (stage ``screen``) is never among them."""
    rows = [r for r in read_jsonl(Paths(run_dir).scores) if r["stage"] == "final"]
    rows.sort(key=lambda r: (-float(r["accuracy"]), int(r["index"])))
    return [space.genotype_from_json(r["genotype"]) for r in rows[:k]]


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
    cpus = _largest_node_cpus(gpus)
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(stage_task)
    ref = task.remote(settings.to_dict(), str(run.path.resolve()), max(1, int(cpus)))
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


def _largest_node_cpus(gpus: int) -> float:
    """Every CPU of the largest live node (of those with a GPU when ``gpus``): the stage is one task,
    so nothing else of the search runs beside it (`--cpus-per-trial` sizes the verified children)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    cpus = [r.get("CPU", 0.0) for r in nodes if r.get("GPU", 0.0) >= gpus]
    return max(max(cpus, default=0.0), 1.0)


def verification(settings: SearchSettings, run: RunFolder) -> tuple[SearchSettings, Searcher]:
    """The stage-2 settings (``trials`` = ``verify_top``, ``epochs`` = ``verify_epochs``) and searcher."""
    from nas.search.searcher import build_space

    space = build_space(settings.space, blocks=settings.blocks)
    verifier = VerifyList(
        space, seed=settings.seed, genotypes=top_candidates(run.path, space, settings.verify_top)
    )
    # Its state is restored by the Tune adapter, from the run's snapshot and journal, like any searcher's.
    return replace(settings, trials=len(verifier.genotypes), epochs=settings.verify_epochs), verifier
