"""One builder for a genotype of either space: the network the trainer and the CLI train and count."""

from __future__ import annotations

from nas.model.nb201 import Nb201Network
from nas.model.network import NASNetwork, NetworkConfig, build_network
from nas.space.nb201 import Nb201Genotype
from nas.space.protocol import GenotypeLike

AnyNetwork = NASNetwork | Nb201Network
"""Both return `nas.model.network.NetworkOutput` and have ``set_drop_path_prob``."""


def build_any_network(genotype: GenotypeLike, config: NetworkConfig) -> AnyNetwork:
    """NASNet's network for a NASNet genotype, NAS-Bench-201's for an NB201 one (N, C from ``config``)."""
    if isinstance(genotype, Nb201Genotype):
        return Nb201Network(genotype, config)
    return build_network(genotype, config)
