"""Cells and networks: every published cell trains in its paper's layout, N @ F arithmetic.

The published networks' sizes against their papers are in tests/space/test_published.py."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError
from nas.model.network import NetworkConfig, build_network, channels_from_filters
from nas.space.genotype import Block, Cell, Genotype
from nas.space.published import MACROS, PUBLISHED
from search_spaces import NasnetSpace

NASNET_A = PUBLISHED["nasnet-a"]


def test_channels_from_filters() -> None:
    assert channels_from_filters(NASNET_A, 1056) == 44  # 6 states x 4 x 44
    assert channels_from_filters(NASNET_A, 768) == 32
    assert channels_from_filters(PUBLISHED["darts-v2"], 576) == 36  # 4 states x 4 x 36
    for bad in (770, 0, -24, 12):
        with pytest.raises(ConfigError, match="not realizable"):
            channels_from_filters(NASNET_A, bad)


def _train_step(genotype: Genotype, config: NetworkConfig) -> None:
    model = build_network(genotype, config)
    model.set_drop_path_prob(0.2)
    x = torch.randn(2, 3, config.image_size, config.image_size)  # type: ignore[arg-type]
    out = model(x)
    assert out.logits.shape == (2, config.num_classes)
    loss = out.logits.logsumexp(1).sum() + (out.aux_logits.sum() if out.aux_logits is not None else 0)
    loss.backward()
    assert torch.isfinite(out.logits).all()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model(x).aux_logits is None


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("dataset", ["cifar10", "imagenet"])
def test_every_published_cell_trains(name: str, dataset: str) -> None:
    size = 32 if dataset == "cifar10" else 64
    layout = MACROS[name].layout(dataset)  # DARTS' ImageNet stem, PNASNet's stages, ENAS' base conv
    _train_step(
        PUBLISHED[name],
        NetworkConfig(dataset=dataset, N=2, C=4, image_size=size, auxiliary=True, num_classes=7, **layout),
    )


def test_random_space_genotypes_with_concat_and_landmark_blocks_train() -> None:
    space = NasnetSpace(num_blocks=3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        choices = [int(torch.randint(len(d.choices), (1,), generator=gen)) for d in space.decisions]
        _train_step(space.decode(choices), NetworkConfig(N=1, C=4, auxiliary=True))


def test_reduction_cell_output_of_an_input_is_downsampled() -> None:
    cell = Cell(blocks=(Block(0, 1, "conv_1x1", "skip_connect", "concat"),), outputs=(0, 1, 2))
    genotype = Genotype(normal=cell, reduce=cell)
    _train_step(genotype, NetworkConfig(N=1, C=2, image_size=9))


def test_bad_network_configs() -> None:
    with pytest.raises(ConfigError, match="unknown dataset"):
        NetworkConfig(dataset="mnist")
    with pytest.raises(ConfigError, match="N"):
        NetworkConfig(N=0)
    with pytest.raises(ConfigError, match="image_size"):
        NetworkConfig(dataset="imagenet", image_size=16)
