"""params: the trainable parameter count, the baseline many zero-cost proxies barely beat.

Abdelfattah et al., ICLR 2021, and White et al., "A Deeper Look at Zero-Cost Proxies" (2022),
report it beside the proxies; counted as `nas show` counts (`nas.model.counting.count_params`,
auxiliary head left out).
"""

from __future__ import annotations

from torch import nn

from nas.model.counting import count_params
from nas.proxies.base import Minibatch, register_proxy


@register_proxy("params", batch_size=0, paper="baseline (Abdelfattah et al. ICLR 2021)")
def params(net: nn.Module, batch: Minibatch) -> float:
    return float(count_params(net))
