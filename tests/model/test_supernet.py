"""The weight-sharing supernet: the chosen path has the stand-alone child's shapes, every op of the
registry runs in it, and gradients reach the selected ops only."""

from __future__ import annotations

import random

import pytest
import torch

from nas.errors import GenotypeError
from nas.model.network import NetworkConfig, build_network
from nas.model.supernet import SuperNetwork
from nas.ops.primitives import OPS
from nas.space.genotype import Block, Cell, Genotype
from search_spaces import NasnetSpace

B = 3
CONFIG = NetworkConfig(N=1, C=4)


def random_genotype(space: NasnetSpace, rng: random.Random) -> Genotype:
    return space.decode([rng.randrange(len(d.choices)) for d in space.decisions])


@pytest.fixture(scope="module")
def supernet() -> SuperNetwork:
    torch.manual_seed(0)
    return SuperNetwork(CONFIG, num_blocks=B)


def _cell_outputs(network: torch.nn.Module, x: torch.Tensor) -> list[torch.Size]:
    shapes: list[torch.Size] = []
    hooks = [c.register_forward_hook(lambda m, i, o: shapes.append(o.shape)) for c in network.cells]  # type: ignore[union-attr]
    network(x)
    for hook in hooks:
        hook.remove()
    return shapes


def test_random_paths_have_the_stand_alone_shapes(supernet: SuperNetwork) -> None:
    space, rng = NasnetSpace(num_blocks=B), random.Random(0)
    x = torch.randn(2, 3, 32, 32)
    for _ in range(8):
        genotype = random_genotype(space, rng)
        out, ends = supernet.forward_loose_ends(x, genotype)
        expected = _cell_outputs(build_network(genotype, CONFIG), x)
        assert [e.shape for e in ends] == expected  # loose ends = the stand-alone cell's output
        assert out.logits.shape == (2, 10) and torch.isfinite(out.logits).all()
        assert out.aux_logits is None


def _with_op(op: str) -> Genotype:
    """``op`` in one slot of every block of both cells, reading a cell input (stride 2 in the
    reduction) and an earlier block (stride 1); the other slot a parameter-free pool."""
    blocks = (
        Block(0, 1, op, "max_pool_3x3"),
        Block(2, 1, "avg_pool_3x3", op, combine="concat"),
        Block(3, 0, op, "skip_connect"),
    )
    return Genotype(normal=Cell(blocks), reduce=Cell(blocks))


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_runs_and_only_the_selected_ops_get_gradients(supernet: SuperNetwork, op: str) -> None:
    genotype = _with_op(op)
    supernet.zero_grad(set_to_none=True)
    supernet(torch.randn(2, 3, 32, 32), genotype).logits.sum().backward()

    selected = {id(p) for m in supernet.selected(genotype) for p in m.parameters()}
    assert any(p.grad is not None for m in supernet.selected(genotype) for p in m.parameters())
    for cell in supernet.cells:
        for name, p in [*cell.slots.named_parameters(), *cell.combines.named_parameters()]:
            if id(p) in selected:
                assert p.grad is not None and torch.isfinite(p.grad).all(), f"{op}: {name} got no gradient"
            else:
                assert p.grad is None, f"{op}: unselected {name} got a gradient"
    assert supernet.classifier.weight.grad is not None


@pytest.mark.parametrize("op", sorted(OPS))
def test_a_path_computes_the_same_in_train_and_eval_mode(supernet: SuperNetwork, op: str) -> None:
    # Why a scored child may skip switching the supernet's modules (`SupernetChild.train`): batch
    # statistics in both modes, no dropout, no drop path.
    genotype, x = _with_op(op), torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        trained = supernet.train()(x, genotype).logits
        evaluated = supernet.eval()(x, genotype).logits
    supernet.train()
    assert torch.equal(trained, evaluated)
    child = supernet.child(genotype).eval()
    assert not child.training and supernet.training  # the view's flag only


def test_projection_uses_the_output_states_slices(supernet: SuperNetwork) -> None:
    genotype = Genotype(
        normal=Cell((Block(0, 1, "conv_3x3", "skip_connect"), Block(0, 1, "skip_connect", "conv_1x1"),
                     Block(2, 3, "skip_connect", "skip_connect"))),
        reduce=Cell((Block(0, 1, "conv_3x3", "skip_connect"), Block(0, 1, "skip_connect", "conv_1x1"),
                     Block(2, 1, "skip_connect", "skip_connect"))),
    )  # fmt: skip
    supernet.zero_grad(set_to_none=True)
    supernet(torch.randn(2, 3, 32, 32), genotype).logits.sum().backward()
    normal, reduce = supernet.cells[0], supernet.cells[1]
    assert normal.project_weight.grad is not None and reduce.project_weight.grad is not None
    used = normal.project_weight.grad.abs().sum(dim=(0, 2)) > 0
    assert used.tolist() == [False, False, False, False, True]  # only state 4 is a loose end
    used = reduce.project_weight.grad.abs().sum(dim=(0, 2)) > 0
    assert used.tolist() == [False, False, False, True, True]  # states 3 and 4


def test_genotypes_the_supernet_cannot_run_are_refused(supernet: SuperNetwork) -> None:
    cell = Cell((Block(0, 1, "conv_3x3", "skip_connect"),))
    with pytest.raises(GenotypeError, match="B=3"):
        supernet.child(Genotype(normal=cell, reduce=cell))
    small = SuperNetwork(CONFIG, num_blocks=1, ops=("conv_3x3", "skip_connect"))
    other = Cell((Block(0, 1, "sep_conv_3x3", "skip_connect"),))
    with pytest.raises(GenotypeError, match="sep_conv_3x3"):
        small.child(Genotype(normal=other, reduce=other))
