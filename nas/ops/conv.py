"""`Conv2d`: ``nn.Conv2d`` that keeps strided 1x1 convolutions on the CPU off a faulty oneDNN kernel.

A 1x1 convolution at stride s reads only every s-th pixel, so it equals the same convolution at
stride 1 on ``x[:, :, ::s, ::s]``. On the CPU this class computes it that way. Why: oneDNN 3.12's AVX2
1x1 weight-gradient kernel (``jit_1x1:avx2 backward_weights``, in torch 2.14.1's CPU wheels) spins
forever or frees memory twice for strided channels_last inputs with few channels (for example 4 -> 4
channels, 32x32, batch 32: the reduction cell of a C=4 child) on CPUs without AVX-512; the same kernel
at stride 1 is sound (checked over 1-7 input channels, 2-8 output channels, 16-64 pixels). Every
stride-2 1x1 convolution of the op registry is built from this class (the NASNet ``conv_1x1`` and
factorized reduction, the blocks' projection shortcuts and strided 1x1 branches).

The module is a drop-in: same parameters, state-dict keys and output; only the CPU route differs
(one extra copy of a quarter of the input). CUDA keeps the strided convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv2d(nn.Conv2d):
    """``nn.Conv2d``; on the CPU a strided 1x1 convolution subsamples first (see the module docstring)."""

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if (
            input.device.type == "cpu"
            and self.kernel_size == (1, 1)
            and self.stride != (1, 1)
            and self.padding in ((0, 0), "valid")
        ):
            sh, sw = self.stride
            return F.conv2d(input[:, :, ::sh, ::sw], weight, bias, 1, 0, self.dilation, self.groups)
        return super()._conv_forward(input, weight, bias)  # type: ignore[no-any-return]
