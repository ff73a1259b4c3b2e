"""The NAS-Bench-201 network: one searched cell stacked in a fixed ResNet-like skeleton.

As in Dong & Yang (ICLR 2020, Sec. 2, Fig. 1) and the authors' builder (xautodl
``get_cell_based_tiny_net`` with ``name: infer.tiny``, ``models/cell_infers/tiny_network.py``): a 3x3
stem conv with BN; three stages of N cells at C, 2C and 4C channels, separated by the residual
reduction block (`ResidualReduction`, their ``ResNetBasicblock`` at stride 2); BN-ReLU, global average
pooling and a linear classifier. The paper's network is N=5, C=16. In a cell node j sums one op
applied to each earlier node i (`nas.space.nb201.EDGES`) and the cell outputs node 3; every op maps
C -> C at stride 1, and BN is affine with running statistics, as in ``infer.tiny``. Parameter counts
equal xautodl's for every arch string (``tests/model/test_nb201.py``).

`forward` returns `NetworkOutput` (``aux_logits`` None: the benchmark trains without an auxiliary head)
so the one training loop (`nas.train.loop`) trains it as it trains NASNet networks.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.errors import ConfigError
from nas.model.network import NetworkConfig, NetworkOutput
from nas.ops.primitives import ReLUConvBN, create_op
from nas.space.nb201 import EDGES, NUM_NODES, Nb201Genotype

NUM_STAGES = 3
PAPER_SIZE: dict[str, int] = {"N": 5, "C": 16}
"""The benchmark's network (Sec. 2.1): 5 cells per stage, 16 channels in the first stage; what every
cell of its table was trained as, and what `nas show` and ``nas train --paper-schedule`` build."""


class Nb201Cell(nn.Module):
    """The searched cell at C channels: node j = sum over i < j of op(i, j)(node i)."""

    def __init__(self, genotype: Nb201Genotype, C: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(create_op(op, C, 1) for op in genotype.ops)
        self.incoming = tuple(
            tuple((k, frm) for k, (to, frm) in enumerate(EDGES) if to == node) for node in range(1, NUM_NODES)
        )
        """Per node 1..3: (edge index, source node) of each edge into it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for incoming in self.incoming:
            (k0, i0), *rest = incoming
            out = self.edges[k0](nodes[i0])
            for k, i in rest:
                out = out + self.edges[k](nodes[i])
            nodes.append(out)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """The reduction between stages (xautodl ``ResNetBasicblock(C_in, C_out, 2)``): ReLU-Conv3x3/2-BN,
    ReLU-Conv3x3-BN, plus a shortcut of 2x2 average pooling and a 1x1 conv (no BN), as there."""

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))  # type: ignore[no-any-return]


class Nb201Network(nn.Module):
    """Stem, 3 stages of ``config.N`` cells at ``config.C * 2**stage``, BN-ReLU, pooling, classifier.

    Of `NetworkConfig` it reads ``N``, ``C`` and ``num_classes``; NASNet's other knobs (stem
    multiplier, auxiliary head, drop path, dropout) are not part of this network and are refused.
    """

    def __init__(self, genotype: Nb201Genotype, config: NetworkConfig) -> None:
        super().__init__()
        check_nb201_config(config)
        assert config.num_classes is not None  # set by the config
        self.config = config
        C = config.C
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        for stage in range(NUM_STAGES):
            width = C << stage
            if stage > 0:
                layers.append(ResidualReduction(width // 2, width))
            layers += [Nb201Cell(genotype, width) for _ in range(config.N)]
        self.cells = nn.Sequential(*layers)
        C_last = C << (NUM_STAGES - 1)
        self.final = nn.Sequential(
            nn.BatchNorm2d(C_last), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.classifier = nn.Linear(C_last, config.num_classes)

    def set_drop_path_prob(self, prob: float) -> None:
        """The benchmark trains without drop path (`check_nb201_config` refuses one); a no-op that lets
        the trainer drive both networks alike."""

    def forward(self, x: torch.Tensor) -> NetworkOutput:
        return NetworkOutput(self.classifier(self.final(self.cells(self.stem(x)))), None)


def check_nb201_config(config: NetworkConfig) -> None:
    """Refuse the NASNet-only settings: the benchmark's network has none of them."""
    if config.dataset != "cifar10" or config.image_size != 32:
        raise ConfigError("a NAS-Bench-201 network is built for 32x32 CIFAR images")
    if config.auxiliary or config.drop_path_prob > 0 or config.dropout > 0:
        raise ConfigError("a NAS-Bench-201 network has no auxiliary head, drop path or dropout")
