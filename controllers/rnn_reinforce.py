"""The RNN controller trained with REINFORCE (or PPO): Zoph & Le 2017; Zoph et al. 2018 (NASNet).

An LSTM (one layer, 100 hidden units, every weight drawn from U(-0.1, 0.1) as in NASNet, App. A)
emits the space's decisions one after another; each decision is a softmax over its own choices and the
chosen value is fed back, through an embedding, as the next step's input. The first step reads a
learned start embedding (ENAS's ``g_emb``; Pham et al. 2018).

Heads. Every decision has its own output head and its own input embedding (as each of NASNet's 10B
softmax classifiers has its own weights), so no masking is needed even though input decisions grow
with the block index. The heads are stored as row blocks of one ``Linear`` and the embeddings as rows
of one ``Embedding``, which is the same model with two tensors instead of 20B.

Logits are squashed by ``tanh_constant * tanh(.)`` with ENAS's 2.5 (Pham et al. 2018, and its
released controller): this bounds how peaked a softmax can get (at most e^5 between two choices), so
the controller keeps exploring. ENAS's PTB controller also divided the logits by a ``temperature``
of 5; the stand-alone default has none (deviation: with it the NAS-Bench-201 policy moved too slowly
for a few hundred children, `bench/searchers.py`). Op decisions use ``tanh_constant /
op_tanh_reduce`` (1 here). These are the stand-alone search's defaults; the
``--weight-sharing`` search uses ENAS's CIFAR-10 micro-search controller instead
(`RLSearcher.weight_sharing_options`: no temperature, tanh 1.10 on inputs and 0.44 on ops, lr 0.0035,
10 architectures per update).

Learning. The reward is the child's score (`nas.results.trial.score_of`: its validation accuracy as in
NASNet, or exp(-loss) of its validation loss, the search's default ``--score``) or its cube
(``reward_transform="cubed"``: Zoph & Le 2017, Sec. 4.1, used the cubed maximum validation accuracy of
the last 5 epochs),
minus ``params_penalty`` per million parameters and ``mult_adds_penalty`` per billion mult-adds (a
soft cost term in the spirit of MnasNet's, Tan et al. 2019); failed and rejected children get
``failure_reward``. A child that the scheduler (ASHA) stopped early is rewarded, like a completed
one, with the accuracy it reached: an under-estimate of the cell, made only of cells that trailed
their peers at that epoch.
Every ``batch_size`` told children (default 4, so the main job's 16 children make 4 updates; NASNet's
450 workers made minibatches of 20 x 450, a budget no one runs here) make one Adam update of
REINFORCE (Williams 1992) with an entropy bonus; ``ppo=True`` instead runs ``ppo_epochs`` epochs of
PPO's clipped surrogate (Schulman et al. 2017; NASNet trained with PPO).

The advantage. ``advantage="moving_average"`` is NASNet's (App. A): the reward minus an exponential
moving average baseline (decay 0.95), initialised to the first minibatch's mean reward rather than 0
so the first update is not a blanket push towards whatever was sampled. Deviation, the stand-alone
default ``"leave_one_out"``: each child's reward minus the mean of the *other* children of its
minibatch (Kool et al. 2019, "Buy 4 REINFORCE samples, get a baseline for free!"), divided by the
minibatch's reward standard deviation (as PPO implementations normalise advantages). Rewards of
neighbouring cells differ by tenths of a point while a bad cell sits tens of points below, so a raw
advantage is dominated by the first few bad cells and Adam's step size stays sized to them; the
normalised one keeps every update about the cells the policy samples now. Measured on the
NAS-Bench-201 table (`bench/searchers.py --objective nats-bench`, noiseless, 30 seeds, 100
children): the reported cell 94.00 +- 0.21 with the moving average and temperature 5 (the former
defaults), 94.31 +- 0.12 with the leave-one-out advantage and no temperature; TPE 94.33
(docs/benchmarks.md has the held-out seeds and the noisy runs).

Deviation: Adam's lr defaults to 0.01, not ENAS/NASNet's 3.5e-4. Those searches trained ~20,000
children; at the hundreds a user runs here 3.5e-4 barely moves the policy (``bench/searchers.py``,
synthetic objective, B=5, 3 seeds, batch 10: best-so-far 1.03x random search's after 200 children at 3.5e-4,
1.49x at 0.01, and 1.88x after 500). Pass ``lr=3.5e-4`` for the papers' setting.

Asynchrony. Only the sampled actions (and, for PPO's ratio, their log-probability under the policy
that sampled them) are kept per trial; log-probabilities are recomputed from the stored actions at
update time, so a late result never touches a stale autograd graph. REINFORCE treats late children as
on-policy, as asynchronous NAS controllers do; PPO's ratio corrects for the policy having moved.

All randomness comes from this searcher's own ``torch.Generator`` (initialisation, then sampling); the
global torch RNG is never touched. `state_dict` holds the weights, Adam's moments and the generator as
base64 of their raw little-endian bytes (`tensor_to_json`): exact, and ~4x smaller than decimal lists
(the state is snapshotted every K tells of a search, and it holds ~3 x 150k floats).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nas.errors import ConfigError, check_number, shown
from nas.results.trial import TrialResult
from nas.searcher.base import Proposal, Searcher, register_searcher, shaped_reward
from nas.space.protocol import SearchSpace

logger = logging.getLogger(__name__)

RewardTransform = Literal["identity", "cubed"]
Advantage = Literal["leave_one_out", "moving_average"]
WARM_FIT_STEPS = 5  # Adam steps towards each warm-start cell (`RLSearcher.ask_with`)
_DTYPES = ("float32", "int64", "uint8")


def _is_op(kind: str) -> bool:
    """An op decision (NASNet's ``op_a``/``op_b``, a NAS-Bench cell's ``op``): ENAS damps its logits
    apart from the input choices (``op_tanh_reduce``)."""
    return kind == "op" or kind.startswith("op_")


def tensor_to_json(t: Tensor) -> dict[str, Any]:
    """A CPU tensor as JSON data: dtype, shape and its little-endian bytes in base64; no pickle."""
    array = t.detach().cpu().contiguous().numpy()
    if array.dtype.name not in _DTYPES:
        raise TypeError(f"tensor_to_json: unsupported dtype {t.dtype}")
    raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(raw).decode()}


def tensor_from_json(data: Mapping[str, Any]) -> Tensor:
    """The tensor `tensor_to_json` wrote, bit for bit."""
    dtype = np.dtype(str(data["dtype"]))
    if dtype.name not in _DTYPES:
        raise TypeError(f"tensor_from_json: unsupported dtype {dtype}")
    flat = np.frombuffer(base64.b64decode(str(data["data"]), validate=True), dtype=dtype.newbyteorder("<"))
    return torch.from_numpy(flat.astype(dtype).reshape([int(n) for n in data["shape"]]))


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the controller's ops on one intra-op thread, then give torch its thread count back.

    Deviation (engineering, not the papers'): a 100-unit LSTM step is far too small to split across
    threads; on a driver whose cores are busy (Ray, the children) torch's thread pool made every ask
    and update ~10x slower (`bench/driver_scale.py`, 2 busy cores: 388 ms -> 35 ms per child).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class _Rollout:
    """One pass of the controller over a batch of M architectures (T decisions each)."""

    actions: Tensor  # (M, T) choice indices
    log_prob: Tensor  # (M,) sum over decisions
    entropy: Tensor  # (M,) sum over decisions
    probs: tuple[Tensor, ...]  # T tensors of shape (M, n_t)


class _Policy(nn.Module):
    """The LSTM controller; see the module docstring for the head layout."""

    def __init__(
        self,
        num_choices: Sequence[int],
        *,
        hidden_size: int,
        temperature: float | None,
        tanh_constants: Sequence[float | None],
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.offsets = [0, *accumulate(num_choices)]
        total = self.offsets[-1]
        self.start_token = total  # the last embedding row is the start input
        self.temperature = temperature
        self.tanh_constants = list(tanh_constants)  # one per decision
        # Built on the meta device, so the default initialisation draws nothing from the global RNG.
        self.lstm = nn.LSTMCell(hidden_size, hidden_size, device="meta").to_empty(device="cpu")
        self.embedding = nn.Embedding(total + 1, hidden_size, device="meta").to_empty(device="cpu")
        self.head = nn.Linear(hidden_size, total, device="meta").to_empty(device="cpu")
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-0.1, 0.1, generator=generator)

    def rollout(
        self, num: int, *, actions: Tensor | None = None, generator: torch.Generator | None = None
    ) -> _Rollout:
        """Sample ``num`` architectures with ``generator``, or score the given ``actions``."""
        hidden = self.lstm.hidden_size
        h = torch.zeros(num, hidden)
        c = torch.zeros(num, hidden)
        token = torch.full((num,), self.start_token, dtype=torch.long)
        chosen, log_probs, entropies, probs = [], [], [], []
        for t, (lo, hi) in enumerate(zip(self.offsets[:-1], self.offsets[1:], strict=True)):
            h, c = self.lstm(self.embedding(token), (h, c))
            logits = F.linear(h, self.head.weight[lo:hi], self.head.bias[lo:hi])
            if self.temperature is not None:
                logits = logits / self.temperature
            tanh = self.tanh_constants[t]
            if tanh is not None:
                logits = tanh * torch.tanh(logits)
            log_p = F.log_softmax(logits, dim=-1)
            p = log_p.exp()
            if actions is None:
                a = torch.multinomial(p.detach(), 1, generator=generator).squeeze(1)
            else:
                a = actions[:, t]
            chosen.append(a)
            log_probs.append(log_p.gather(1, a.unsqueeze(1)).squeeze(1))
            entropies.append(-(p * log_p).sum(dim=-1))
            probs.append(p)
            token = a + lo
        return _Rollout(
            actions=torch.stack(chosen, dim=1),
            log_prob=torch.stack(log_probs, dim=1).sum(dim=1),
            entropy=torch.stack(entropies, dim=1).sum(dim=1),
            probs=tuple(probs),
        )


# (integer, low, high, low excluded) of each number of `RLConfig`: finite and bounded, so that a typo
# (lr=Infinity, hidden_size=10**9) is refused up front rather than as NaN probabilities after an update.
_RANGES: dict[str, tuple[bool, float, float, bool]] = {
    "hidden_size": (True, 1, 4096, False),
    "lr": (False, 0, 10, True),
    "batch_size": (True, 1, 100_000, False),
    "temperature": (False, 0, 1e6, True),
    "tanh_constant": (False, 0, 1e6, True),
    "op_tanh_reduce": (False, 0, 1e6, True),
    "entropy_weight": (False, 0, 1e6, False),
    "baseline_decay": (False, 0, 1, False),
    "params_penalty": (False, 0, 1e6, False),
    "mult_adds_penalty": (False, 0, 1e6, False),
    "failure_reward": (False, -1e6, 1e6, False),
    "ppo_epochs": (True, 1, 1000, False),
    "ppo_clip": (False, 0, 1e6, True),
}


@dataclass(frozen=True, kw_only=True)
class RLConfig:
    """The controller's hyperparameters (the module docstring gives each one's source): the keys a
    search's ``--searcher-option`` sets for ``rl``, checked here before the controller is built."""

    hidden_size: int = 100
    lr: float = 0.01
    batch_size: int = 4
    temperature: float | None = None
    tanh_constant: float | None = 2.5
    op_tanh_reduce: float = 1.0
    entropy_weight: float = 1e-4
    advantage: Advantage = "leave_one_out"
    baseline_decay: float = 0.95
    reward_transform: RewardTransform = "identity"
    params_penalty: float = 0.0
    mult_adds_penalty: float = 0.0
    failure_reward: float = 0.0
    ppo: bool = False
    ppo_epochs: int = 4
    ppo_clip: float = 0.2

    def __post_init__(self) -> None:
        for name, (integer, low, high, low_open) in _RANGES.items():
            value = getattr(self, name)
            if value is not None:
                check_number(f"rl {name}", value, integer=integer, low=low, high=high, low_open=low_open)
        if self.baseline_decay == 1:
            raise ConfigError("rl baseline_decay must be < 1, got 1")
        if self.advantage not in ("leave_one_out", "moving_average"):
            raise ConfigError(
                f"rl advantage: expected leave_one_out or moving_average, got {shown(self.advantage)}"
            )
        if self.advantage == "leave_one_out" and self.batch_size < 2:
            raise ConfigError(
                "rl advantage leave_one_out needs batch_size >= 2 (the other children of a minibatch are "
                "its baseline); pass advantage=moving_average for batch_size=1"
            )
        if self.reward_transform not in ("identity", "cubed"):
            raise ConfigError(
                f"rl reward_transform: expected identity or cubed, got {shown(self.reward_transform)}"
            )


@register_searcher("rl")
class RLSearcher(Searcher):
    """NASNet's RNN controller behind the ask/tell interface (see the module docstring)."""

    Options = RLConfig  # what ``**options`` are (`nas.search.searcher.check_searcher_options`)

    def __init__(self, space: SearchSpace, *, seed: int, **options: Any) -> None:
        """``options``: `RLConfig`'s fields, e.g. ``RLSearcher(space, seed=0, lr=3.5e-4)``."""
        super().__init__(space, seed=seed)
        self.config = config = RLConfig(**options)

        decisions = space.decisions
        self._generator = torch.Generator().manual_seed(seed)
        self.policy = _Policy(
            [len(d.choices) for d in decisions],
            hidden_size=config.hidden_size,
            temperature=config.temperature,
            tanh_constants=[
                None
                if config.tanh_constant is None
                else config.tanh_constant / (config.op_tanh_reduce if _is_op(d.kind) else 1.0)
                for d in decisions
            ],
            generator=self._generator,
        )
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr)
        # Every op decision chooses among the same ops, so their probabilities can be averaged.
        self._op_steps = [t for t, d in enumerate(decisions) if _is_op(d.kind)]
        self._op_names = decisions[self._op_steps[0]].choices if self._op_steps else ()

        self.baseline: float | None = None
        self.num_updates = 0
        self._log_probs: dict[str, float] = {}  # outstanding trial -> log-prob when sampled (for PPO)
        self._finished: list[tuple[tuple[int, ...], float, float]] = []  # (actions, log-prob, reward)
        self._last_update: dict[str, Any] | None = None

    @classmethod
    def weight_sharing_options(cls, archs_per_step: int) -> dict[str, Any]:
        """ENAS's CIFAR-10 micro-search controller (Pham et al. 2018; ``melodyguan/enas``,
        ``scripts/cifar10_micro_search.sh`` and ``src/cifar10/micro_controller.py``): no temperature,
        tanh constant 1.10 on input choices and 1.10 / 2.5 = 0.44 on op choices
        (``controller_op_tanh_reduce``), Adam lr 0.0035, baseline decay 0.99, entropy weight 1e-4, and
        one update per ``archs_per_step`` architectures (``controller_num_aggregate=10``)."""
        return {
            "temperature": None,
            "tanh_constant": 1.10,
            "op_tanh_reduce": 2.5,
            "lr": 0.0035,
            "batch_size": archs_per_step,
            "advantage": "moving_average",
            "baseline_decay": 0.99,
            "entropy_weight": 1e-4,
        }

    def path_sampler(self, seed: int) -> PolicyPaths:
        """ENAS's phase (a): the shared weights train on paths drawn from the current policy."""
        return PolicyPaths(self.policy, seed)

    def ask(self) -> Proposal:
        with torch.no_grad(), _one_thread():
            sample = self.policy.rollout(1, generator=self._generator)
        proposal = self.ledger.propose(self.space, str(self.ledger.num_asked), sample.actions[0].tolist())
        self._log_probs[proposal.trial_id] = float(sample.log_prob[0])
        return proposal

    def ask_with(self, choices: Sequence[int]) -> Proposal:
        """Propose given ``choices`` (a warm start): first fit the policy towards them, then learn from
        their result by REINFORCE like any child.

        The fit is ``WARM_FIT_STEPS`` Adam steps on minus the cell's log-probability (behaviour
        cloning of the proxy's best cells), so the controller's own first samples come from near
        them. Abdelfattah et al. (ICLR 2021, Sec. 5) warm-start searches with a proxy's best cells;
        this fit is ours, not taken from their code. Measured here, REINFORCE on the warm children
        alone (their results arrive in one minibatch, whose leave-one-out advantages are mostly the
        evaluation's noise) left the policy where it was (NB201 table, noise 1.0, 50 children: +0.00
        over 60 seeds; with the fit +0.22 and +0.15 on seeds 0-29 and 30-59, docs/zero_cost.md).
        The REINFORCE term is off-policy for these children; PPO's ratio starts at 1 from the
        log-probability recorded after the fit. Draws nothing from the generator; a resumed search
        redoes the fit (`SearcherCheckpoint` journals a warm ask and replays it through this method)."""
        proposal = self.ledger.propose(self.space, str(self.ledger.num_asked), choices)
        actions = torch.tensor([proposal.choices], dtype=torch.long)
        with _one_thread():
            for _ in range(WARM_FIT_STEPS):
                self.optimizer.zero_grad()
                torch.autograd.backward(-self.policy.rollout(1, actions=actions).log_prob.sum())
                self.optimizer.step()
            with torch.no_grad():
                out = self.policy.rollout(1, actions=actions)
        self._log_probs[proposal.trial_id] = float(out.log_prob[0])
        return proposal

    def tell(self, trial_id: str, result: TrialResult) -> None:
        actions = self.ledger.close(trial_id, result)
        self._finished.append((actions, self._log_probs.pop(trial_id), self._reward(result)))
        if len(self._finished) >= self.config.batch_size:
            with _one_thread():
                self._update(self._finished)
            self._finished = []

    def _reward(self, result: TrialResult) -> float:
        reward = shaped_reward(result, failure_reward=self.config.failure_reward)
        if result.learnable is None:
            return reward
        if self.config.reward_transform == "cubed":
            reward = reward**3
        cost = self.config.params_penalty * (result.params or 0) / 1e6
        return reward - cost - self.config.mult_adds_penalty * (result.mult_adds or 0) / 1e9

    def _update(self, batch: Sequence[tuple[tuple[int, ...], float, float]]) -> None:
        actions = torch.tensor([a for a, _, _ in batch], dtype=torch.long)
        old_log_prob = torch.tensor([lp for _, lp, _ in batch], dtype=torch.float32)
        rewards = [r for _, _, r in batch]
        mean_reward = sum(rewards) / len(rewards)
        if self.baseline is None:
            self.baseline = mean_reward
        advantage = torch.tensor(self._advantages(rewards), dtype=torch.float32)
        for epoch in range(self.config.ppo_epochs if self.config.ppo else 1):
            out = self.policy.rollout(len(batch), actions=actions)
            if self.config.ppo:
                ratio = torch.exp(out.log_prob - old_log_prob)
                clipped = torch.clamp(ratio, 1 - self.config.ppo_clip, 1 + self.config.ppo_clip)
                objective = torch.minimum(ratio * advantage, clipped * advantage)
            else:
                objective = out.log_prob * advantage
            loss = -(objective.mean() + self.config.entropy_weight * out.entropy.mean())
            self.optimizer.zero_grad()
            torch.autograd.backward(loss)
            self.optimizer.step()
            if epoch == 0:
                self._last_update = self._update_stats(out, mean_reward)
        for r in rewards:
            self.baseline = self.config.baseline_decay * self.baseline + (1 - self.config.baseline_decay) * r
        self.num_updates += 1
        logger.debug("controller update %d: %s", self.num_updates, self._last_update)

    def _advantages(self, rewards: Sequence[float]) -> list[float]:
        """Each reward's advantage under ``config.advantage`` (the module docstring says why)."""
        if self.config.advantage == "moving_average":
            assert self.baseline is not None
            return [r - self.baseline for r in rewards]
        n, total = len(rewards), sum(rewards)
        std = float(np.std(rewards))
        if n < 2 or std == 0.0:
            return [0.0] * n  # nothing to tell apart: only the entropy bonus moves the policy
        return [(r - (total - r) / (n - 1)) / std for r in rewards]

    def _update_stats(self, out: _Rollout, mean_reward: float) -> dict[str, Any]:
        """What the policy looked like on this minibatch, before its update.

        ``op_probs`` is the probability of each op averaged over the op decisions (op_a and op_b of
        every block of both cells) along the minibatch's own trajectories.
        """
        op_probs: dict[str, float] = {}
        if self._op_steps:
            mean = torch.stack([out.probs[t].detach().mean(dim=0) for t in self._op_steps]).mean(dim=0)
            op_probs = dict(zip(self._op_names, mean.tolist(), strict=True))
        return {
            "mean_reward": mean_reward,
            "baseline": self.baseline,
            "entropy": float(out.entropy.detach().mean()),
            "op_probs": op_probs,
        }

    def stats(self) -> dict[str, float | dict[str, float]]:
        """The ledger's counts, ``updates``, and from the first update on the last `_update_stats`."""
        out: dict[str, float | dict[str, float]] = {
            **super().stats(),
            "updates": float(self.num_updates),
        }
        if self._last_update is not None:
            out.update(self._last_update)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._state_header(),
            "policy": {name: tensor_to_json(t) for name, t in self.policy.state_dict().items()},
            "optimizer": {
                str(i): {key: tensor_to_json(value) for key, value in s.items()}
                for i, s in self.optimizer.state_dict()["state"].items()
            },
            "generator": tensor_to_json(self._generator.get_state()),
            "baseline": self.baseline,
            "num_updates": self.num_updates,
            "log_probs": dict(self._log_probs),
            "finished": [[list(a), lp, r] for a, lp, r in self._finished],
            "last_update": self._last_update,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._load_header(state)
        self.policy.load_state_dict({name: tensor_from_json(v) for name, v in state["policy"].items()})
        # Adam's per-parameter state (step, exp_avg, exp_avg_sq); the param groups (lr, betas) are
        # the constructor's, which a resume must repeat anyway.
        self.optimizer.load_state_dict(
            {
                "state": {
                    int(i): {key: tensor_from_json(value) for key, value in s.items()}
                    for i, s in state["optimizer"].items()
                },
                "param_groups": self.optimizer.state_dict()["param_groups"],
            }
        )
        self._generator.set_state(tensor_from_json(state["generator"]))
        self.baseline = state["baseline"]
        self.num_updates = int(state["num_updates"])
        self._log_probs = {str(k): float(v) for k, v in state["log_probs"].items()}
        self._finished = [(tuple(a), float(lp), float(r)) for a, lp, r in state["finished"]]
        self._last_update = state["last_update"]


class PolicyPaths:
    """Architectures drawn from the controller's current policy with a generator of their own, so
    the controller's ask stream is untouched (a `nas.searcher.base.PathSampler`)."""

    def __init__(self, policy: _Policy, seed: int) -> None:
        self.policy = policy
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self) -> list[int]:
        with torch.no_grad(), _one_thread():
            actions: list[int] = self.policy.rollout(1, generator=self.generator).actions[0].tolist()
        return actions

    def state_dict(self) -> dict[str, Any]:
        return {"generator": tensor_to_json(self.generator.get_state())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(tensor_from_json(state["generator"]))
