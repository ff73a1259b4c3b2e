"""The weight-sharing supernet over the NASNet space (ENAS; Pham et al. 2018, arXiv 1802.03268).

Every architecture of the space is a path through one over-parameterised CIFAR network: each block's
two input slots hold one instance of every op of the space (the `nas.ops.primitives` registry,
landmark blocks included), each block holds both combines, and a genotype passed to ``forward``
selects the path. Only the selected modules run, so a step costs what one child costs (ENAS's
``micro_child.py`` computes every op and keeps one; we skip the others, which the gradients and
the compute of an eager framework allow).

What varies with the genotype must not change the next cell's input width. As ENAS's ``_enas_layer``
does, the cell output is the loose ends (the cell's output states) concatenated and projected back to
C by ReLU -> 1x1 conv -> BN, whose conv weight holds one C x C slice per state of the cell and uses
the slices of the states that are output. A loose end that is a cell input of a reduction cell is
factorized-reduced first (as in the stand-alone cell and ENAS's ``_fixed_combine``).

Deviations from the stand-alone child (`nas.model.cell.NASCell`, `nas.model.network.NASNetwork`):
- The cell output is C channels (the projection above), not k * C; the classifier reads C of the
  last stage. Everything before the projection (preprocessing, ops, combines, loose ends) has the
  stand-alone child's shapes (``tests/model/test_supernet.py`` checks it).
- In a reduction cell a slot holds two instances of every op: stride 2 for the cell inputs and
  stride 1 for the earlier blocks, as the stand-alone child strides. (ENAS instead reduces the cell
  inputs first and runs stride-1 ops; keeping the child's strides makes the verified child the
  network the supernet scored.) ENAS keys op weights also by the input state chosen; here a slot's op
  is shared by every input it may read, as the issue's "one instance of every op per slot" asks.
- Both cell inputs are always preprocessed with fixed widths (the stand-alone child skips an unused
  input); the preprocessing runs only when a block or the output reads the input.
- Batch norm always normalises with the batch's statistics (``track_running_stats=False``): running
  averages over a mix of architectures describe none of them. ENAS computes its reward in training
  mode for the same reason (``build_valid_rl``: ``is_training=True``).
- No drop path and no auxiliary head during the search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import ConfigError, GenotypeError
from nas.model.cell import _Combine
from nas.model.network import NUM_REDUCTIONS, NetworkConfig, NetworkOutput
from nas.ops.primitives import OPS, FactorizedReduce, ReLUConvBN, create_op
from nas.space.genotype import COMBINES, NUM_INPUT_STATES, Cell, Genotype
from nas.space.protocol import GenotypeLike


def _op_choices(names: Sequence[str], C: int, stride: int) -> nn.ModuleDict:
    return nn.ModuleDict({name: create_op(name, C, stride, True) for name in names})


class SuperCell(nn.Module):
    """A normal or reduction cell holding every op in every slot; `forward` runs one cell's path."""

    def __init__(
        self,
        *,
        num_blocks: int,
        ops: Sequence[str],
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.num_blocks = num_blocks
        self.reduction = reduction
        self.C = C
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_prev_prev, C)
        elif C_prev_prev != C:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        else:
            self.preprocess0 = nn.Identity()
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        # slots[2b + s][stride]: the ops of slot s of block b at that stride ("1" or "2").
        self.slots = nn.ModuleList()
        for b in range(num_blocks):
            for _ in range(2):
                strides = [2] if reduction else [1]
                if reduction and b > 0:
                    strides.append(1)  # a later block may read an earlier one, at the reduced size
                self.slots.append(nn.ModuleDict({str(s): _op_choices(ops, C, s) for s in strides}))
        self.combines = nn.ModuleList(
            nn.ModuleDict({kind: _Combine(kind, C, True) for kind in COMBINES}) for _ in range(num_blocks)
        )
        self.output_reduce = nn.ModuleList(
            FactorizedReduce(C, C) for _ in range(NUM_INPUT_STATES if reduction else 0)
        )
        num_states = NUM_INPUT_STATES + num_blocks
        # ENAS's final_conv: one C x C slice of the 1x1 conv per state, the output states' used.
        self.project_weight = nn.Parameter(torch.empty(C, num_states, C))
        nn.init.kaiming_uniform_(self.project_weight.view(C, num_states * C), a=math.sqrt(5))
        self.project_bn = nn.BatchNorm2d(C)

    def selected(self, cell: Cell) -> list[nn.Module]:
        """The modules ``cell`` runs (ops, combines, reductions of output inputs), for tests and counts."""
        modules: list[nn.Module] = []
        for b, block in enumerate(cell.blocks):
            for s, (state, op) in enumerate(((block.input_a, block.op_a), (block.input_b, block.op_b))):
                modules.append(self._op(b, s, state, op))
            modules.append(self._combine(b, block.combine))
        if self.reduction:
            modules += [self.output_reduce[s] for s in cell.output_states() if s < NUM_INPUT_STATES]
        return modules

    def _op(self, block: int, slot: int, state: int, op: str) -> nn.Module:
        stride = 2 if self.reduction and state < NUM_INPUT_STATES else 1
        return cast(nn.ModuleDict, cast(nn.ModuleDict, self.slots[2 * block + slot])[str(stride)])[op]

    def _combine(self, block: int, kind: str) -> nn.Module:
        return cast(nn.ModuleDict, self.combines[block])[kind]

    def loose_ends(self, s0: torch.Tensor, s1: torch.Tensor, cell: Cell) -> torch.Tensor:
        """The concatenated output states of ``cell``: what the stand-alone cell outputs (k * C channels)."""
        if cell.num_blocks != self.num_blocks:
            raise GenotypeError(f"the supernet has B={self.num_blocks}, the genotype B={cell.num_blocks}")
        used = {i for b in cell.blocks for i in (b.input_a, b.input_b)} | set(cell.output_states())
        states: list[torch.Tensor | None] = [
            self.preprocess0(s0) if 0 in used else None,
            self.preprocess1(s1) if 1 in used else None,
        ]
        for b, block in enumerate(cell.blocks):
            h_a = self._op(b, 0, block.input_a, block.op_a)(states[block.input_a])
            h_b = self._op(b, 1, block.input_b, block.op_b)(states[block.input_b])
            states.append(self._combine(b, block.combine)(h_a, h_b))
        out = []
        for s in cell.output_states():
            h = states[s]
            assert h is not None  # an output state is in `used`
            out.append(self.output_reduce[s](h) if self.reduction and s < NUM_INPUT_STATES else h)
        return torch.cat(out, dim=1)

    def project(self, ends: torch.Tensor, cell: Cell) -> torch.Tensor:
        """ReLU -> 1x1 conv with the output states' weight slices -> BN: back to C channels."""
        index = torch.tensor(cell.output_states(), device=ends.device)
        weight = self.project_weight.index_select(1, index).reshape(self.C, -1, 1, 1)
        return self.project_bn(F.conv2d(F.relu(ends), weight.to(ends.dtype)))  # type: ignore[no-any-return]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, cell: Cell) -> torch.Tensor:
        return self.project(self.loose_ends(s0, s1, cell), cell)


class SuperNetwork(nn.Module):
    """The search's CIFAR network (stem, N normal cells per stage, 2 reductions) over every path.

    ``forward(x, genotype)`` runs the path of ``genotype`` and returns `NetworkOutput` (no aux
    logits), so the trainer's loss and step helpers apply unchanged; `child` binds a genotype.
    """

    def __init__(self, config: NetworkConfig, *, num_blocks: int, ops: Sequence[str] = ()) -> None:
        super().__init__()
        if config.dataset != "cifar10":
            raise ConfigError("the weight-sharing supernet is built for CIFAR-10 only")
        assert config.stem_multiplier is not None and config.num_classes is not None  # set by the config
        self.config = config
        self.num_blocks = num_blocks
        self.ops = tuple(ops) or tuple(OPS)
        C, N = config.C, config.N
        C_stem = config.stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))
        self.cells = nn.ModuleList()
        C_pp, C_p, reduction_prev, C_curr = C_stem, C_stem, False, C
        for stage in range(NUM_REDUCTIONS + 1):
            kinds = ([True] if stage > 0 else []) + [False] * N
            for reduction in kinds:
                C_curr = C_curr * 2 if reduction else C_curr
                cell = SuperCell(
                    num_blocks=num_blocks, ops=self.ops, C_prev_prev=C_pp, C_prev=C_p, C=C_curr,
                    reduction=reduction, reduction_prev=reduction_prev,
                )  # fmt: skip
                self.cells.append(cell)
                C_pp, C_p, reduction_prev = C_p, C_curr, reduction
        self.final = nn.Sequential(nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(C_p, config.num_classes)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):  # batch statistics only (see the module docstring)
                module.track_running_stats = False
                for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                    module.register_buffer(buffer, None)

    @property
    def super_cells(self) -> list[SuperCell]:
        return [cast(SuperCell, c) for c in self.cells]

    def check(self, genotype: Genotype) -> None:
        """Refuse a genotype this supernet cannot run, naming what differs."""
        genotype.validate()
        if genotype.num_blocks != self.num_blocks:
            raise GenotypeError(f"the supernet has B={self.num_blocks}, the genotype B={genotype.num_blocks}")
        missing = sorted({op for _, c in genotype.cells() for op in c.ops()} - set(self.ops))
        if missing:
            raise GenotypeError(f"op(s) {missing} are not in the supernet")

    def forward_loose_ends(
        self, x: torch.Tensor, genotype: Genotype
    ) -> tuple[NetworkOutput, list[torch.Tensor]]:
        """The output and each cell's loose ends before projection (the stand-alone cell's output)."""
        s0 = s1 = self.stem(x)
        ends: list[torch.Tensor] = []
        for cell in self.super_cells:
            spec = genotype.reduce if cell.reduction else genotype.normal
            ends.append(cell.loose_ends(s0, s1, spec))
            s0, s1 = s1, cell.project(ends[-1], spec)
        return NetworkOutput(self.classifier(self.final(s1)), None), ends

    def forward(self, x: torch.Tensor, genotype: Genotype) -> NetworkOutput:
        return self.forward_loose_ends(x, genotype)[0]

    def selected(self, genotype: Genotype) -> list[nn.Module]:
        """The genotype-dependent modules its path runs (every cell's ops, combines, reductions)."""
        return [
            m
            for cell in self.super_cells
            for m in cell.selected(genotype.reduce if cell.reduction else genotype.normal)
        ]

    def child(self, genotype: GenotypeLike) -> SupernetChild:
        """``genotype``'s view of the shared weights; a genotype of another space is a `GenotypeError`."""
        if not isinstance(genotype, Genotype):
            raise GenotypeError(f"the supernet runs NASNet cells, not a {type(genotype).__name__}")
        self.check(genotype)
        return SupernetChild(self, genotype)


class SupernetChild(nn.Module):
    """One architecture's view of the supernet: ``forward(x)`` like a stand-alone `NASNetwork`, so
    the trainer's `nas.train.trainer.evaluate` scores it unchanged. Holds no weights of its own."""

    def __init__(self, supernet: SuperNetwork, genotype: Genotype) -> None:
        super().__init__()
        self.supernet = supernet
        self.genotype = genotype

    def forward(self, x: torch.Tensor) -> NetworkOutput:
        return self.supernet(x, self.genotype)  # type: ignore[no-any-return]

    def train(self, mode: bool = True) -> SupernetChild:
        """Sets this view's flag only, not the supernet's modules: the supernet computes the same in
        both modes (batch statistics always, no dropout or drop path; ``tests/model/test_supernet.py``
        checks it), and `evaluate` switching all of its ~13,000 modules there and back for every
        scored candidate was a third of the candidate's cost (profiled at N=1, C=4 on 160 images)."""
        self.training = mode
        return self
