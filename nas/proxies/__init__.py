"""Zero-cost proxies: training-free scores of a child network (issue 25).

Importing the package registers every proxy (one module each) in `nas.proxies.base.PROXIES`;
`nas.proxies.score` computes them on the child as the search builds it.
"""

from __future__ import annotations

from nas.proxies import flops, grad_norm, jacov, naswot, params, snip, synflow, synflow_naswot
from nas.proxies.base import PROXIES, Minibatch, Proxy, register_proxy

__all__ = [
    "PROXIES",
    "Minibatch",
    "Proxy",
    "flops",
    "grad_norm",
    "jacov",
    "naswot",
    "params",
    "register_proxy",
    "snip",
    "synflow",
    "synflow_naswot",
]
