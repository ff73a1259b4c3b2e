"""synflow_naswot: log(synflow) + naswot, the two proxies that rank NAS-Bench-201 best, as one score.

A combination in the spirit of Abdelfattah et al. (ICLR 2021, Sec. 5: "combining" proxies) and
White et al. (NeurIPS 2021, the OMNI estimator): synflow measures how much signal the positive
network passes, NASWOT how differently its ReLUs split a minibatch, and their errors differ. The
sum of ranks of the two (a property of a set of cells) ranks the table best (docs/zero_cost.md);
this is its per-cell form, so that one child can be scored alone (``nas search --score zero_cost``).
Synflow enters by its logarithm, as it spans tens of orders of magnitude where NASWOT (already a
log-determinant) spans a few hundred units; unweighted, because on 2 x 300 random NB201 cells at the
search's child size the tau was flat in the weight (0.25-4 x NASWOT: 0.606-0.650, docs/zero_cost.md).

Deviation: a network through which nothing flows (only ``none`` edges on every path) has synflow 0;
its logarithm is taken at `SYNFLOW_FLOOR`, the score then NASWOT's minus 69 -- below every cell that
passes signal.
"""

from __future__ import annotations

import copy
import math

from torch import nn

from nas.proxies.base import Minibatch, register_proxy
from nas.proxies.naswot import naswot
from nas.proxies.synflow import synflow

SYNFLOW_FLOOR = 1e-30
"""Where synflow's logarithm is taken for a network that passes no signal (synflow 0)."""


@register_proxy(
    "synflow_naswot", batch_size=128, paper="Abdelfattah et al. ICLR 2021; Mellor et al. ICML 2021"
)
def synflow_naswot(net: nn.Module, batch: Minibatch) -> float:
    flow = synflow(copy.deepcopy(net), batch)  # synflow changes the weights; NASWOT gets them untouched
    return math.log(max(flow, SYNFLOW_FLOOR)) + naswot(net, batch)
