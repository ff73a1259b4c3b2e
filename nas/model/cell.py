"""A NASNet cell compiled from a genotype's `Cell`.

Conventions of the TF reference (`research/slim/nets/nasnet/nasnet_utils.py`, ``NasNetABaseCell``):
- h_{i-1} always goes through ReLU-1x1-BN to C; h_{i-2} is brought to C by a factorized reduce when
  the previous cell reduced, a ReLU-1x1-BN when only its width differs, and passes unchanged
  otherwise. Every op is then C -> C.
- In a reduction cell only ops reading the cell inputs (states 0, 1) stride; ops on earlier
  blocks are already at the reduced resolution.
- Every op output but an identity goes through drop path (ScheduledDropPath).
- The output is the depth concatenation of the cell's output states. Our additions: a block may
  ``concat`` instead of ``add`` (projected back to C by 1x1-BN), and an output state that is a cell
  input of a reduction cell is factorized-reduced to the new resolution (the reference does this
  in ``_combine_unused_states``).
The structure is compiled in ``__init__``; ``forward`` only walks the precomputed wiring.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.ops.primitives import FactorizedReduce, ReLUConvBN, create_op
from nas.space.genotype import NUM_INPUT_STATES, Cell


class DropPath(nn.Module):
    """Drop a whole op output per example with probability ``prob`` (Larsson et al. 2017).

    NASNet's ScheduledDropPath raises ``prob`` linearly over training; the trainer calls
    `NASNetwork.set_drop_path_prob` each epoch rather than poking this attribute from outside.
    """

    def __init__(self) -> None:
        super().__init__()
        self.prob = 0.0

    def set_prob(self, prob: float) -> None:
        if not 0.0 <= prob < 1.0:
            raise ValueError(f"drop path probability must be in [0, 1), got {prob}")
        self.prob = prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.prob == 0.0:
            return x
        keep = 1.0 - self.prob
        mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
        return x * mask / keep


class _Branch(nn.Module):
    """One op of a block followed by drop path (skipped for a plain identity, as in the reference)."""

    def __init__(self, op_name: str, C: int, stride: int, affine: bool) -> None:
        super().__init__()
        self.op = create_op(op_name, C, stride, affine)
        self.drop_path: nn.Module = nn.Identity() if isinstance(self.op, nn.Identity) else DropPath()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.op(x))  # type: ignore[no-any-return]


class _Combine(nn.Module):
    """``add``, or ``concat`` followed by a 1x1 conv + BN back to C channels."""

    def __init__(self, kind: str, C: int, affine: bool) -> None:
        super().__init__()
        self.kind = kind
        self.project = (
            nn.Sequential(nn.Conv2d(2 * C, C, 1, bias=False), nn.BatchNorm2d(C, affine=affine))
            if kind == "concat"
            else None
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.project is None:
            return a + b
        return self.project(torch.cat([a, b], dim=1))  # type: ignore[no-any-return]


class NASCell(nn.Module):
    """A normal or reduction cell: (h_{i-2}, h_{i-1}) -> concat of output states, each of C channels."""

    def __init__(
        self,
        cell: Cell,
        *,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        affine: bool = True,
        base_conv: bool = False,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        # An input state that no block reads and the output does not list gets no preprocessing,
        # so every parameter of the cell is used (and receives a gradient).
        used = {i for b in cell.blocks for i in (b.input_a, b.input_b)} | set(cell.output_states())
        self.preprocess0: nn.Module | None = None
        if 0 in used:
            if reduction_prev:
                self.preprocess0 = FactorizedReduce(C_prev_prev, C, affine)
            elif C_prev_prev != C:
                self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=affine)
            else:
                self.preprocess0 = nn.Identity()
        self.preprocess1: nn.Module | None = None
        if 1 in used:
            self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=affine)
            if base_conv and C_prev != C:
                # ENAS (`micro_child.py` ``_fixed_layer``): h_{i-1} is calibrated to C by a 1x1, then
                # always goes through the ``layer_base`` ReLU-1x1-BN as well.
                self.preprocess1 = nn.Sequential(self.preprocess1, ReLUConvBN(C, C, 1, 1, 0, affine=affine))

        self.inputs: list[tuple[int, int]] = []
        self.branches = nn.ModuleList()
        self.combines = nn.ModuleList()
        for block in cell.blocks:
            self.inputs.append((block.input_a, block.input_b))
            for state, op in ((block.input_a, block.op_a), (block.input_b, block.op_b)):
                stride = 2 if reduction and state < NUM_INPUT_STATES else 1
                self.branches.append(_Branch(op, C, stride, affine))
            self.combines.append(_Combine(block.combine, C, affine))

        self.outputs = cell.output_states()
        self.output_reduce = nn.ModuleDict(
            {
                str(s): FactorizedReduce(C, C, affine)
                for s in self.outputs
                if reduction and s < NUM_INPUT_STATES
            }
        )
        self.multiplier = len(self.outputs)
        self.C_out = self.multiplier * C

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [
            self.preprocess0(s0) if self.preprocess0 is not None else s0,
            self.preprocess1(s1) if self.preprocess1 is not None else s1,
        ]
        for i, (a, b) in enumerate(self.inputs):
            h_a = self.branches[2 * i](states[a])
            h_b = self.branches[2 * i + 1](states[b])
            states.append(self.combines[i](h_a, h_b))
        out = [
            self.output_reduce[str(s)](states[s]) if str(s) in self.output_reduce else states[s]
            for s in self.outputs
        ]
        return torch.cat(out, dim=1)
