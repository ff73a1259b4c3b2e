"""jacov: how uncorrelated the input-gradients of a minibatch's images are (Jacobian covariance).

Mellor et al., "Neural Architecture Search without Training", arXiv:2006.04647 v1 (2020), Sec. 3;
``jacob_cov`` in Abdelfattah et al., ICLR 2021 (zero-cost-nas
``foresight/pruners/measures/jacob_cov.py``): J = d(sum of logits)/d(input) for each image of the
minibatch, flattened; Sigma = the correlation matrix of the rows of J; with its eigenvalues
lambda and k = 1e-5, score = -sum(log(lambda + k) + 1 / (lambda + k)). Batch of 64 and batch norm
in training mode as zero-cost-nas.

Deviations, so the score is finite for every cell: the reference takes ``np.linalg.eig`` of the
correlation matrix and returns NaN when it fails; here the matrix is symmetric, so ``eigvalsh``
(real eigenvalues), clipped at 0 (round-off makes tiny ones negative, whose log + k is NaN), and a
zero-variance row (an image whose gradient is constant, e.g. a cell of only pooling whose logits do
not depend on that image) correlates 0 with every other (NumPy's corrcoef gives NaN there).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nas.proxies.base import Minibatch, logits, register_proxy

K = 1e-5


@register_proxy(
    "jacov", batch_size=64, paper="Mellor et al. arXiv:2006.04647 v1; Abdelfattah et al. ICLR 2021"
)
def jacov(net: nn.Module, batch: Minibatch) -> float:
    net.train()
    net.zero_grad()
    images = batch.images.clone().requires_grad_(True)
    out = logits(net, images)
    (jacobian,) = torch.autograd.grad(out, images, torch.ones_like(out))
    return jacobian_score(jacobian.reshape(len(batch), -1).double().cpu().numpy())


def jacobian_score(rows: np.ndarray) -> float:
    """The v1 score of one Jacobian row per image."""
    centered = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centered, axis=1)
    scaled = np.divide(centered, norms[:, None], out=np.zeros_like(centered), where=norms[:, None] > 0)
    corr = scaled @ scaled.T
    np.fill_diagonal(corr, 1.0)
    eigenvalues = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    return float(-np.sum(np.log(eigenvalues + K) + 1.0 / (eigenvalues + K)))
