"""The best cell of a noisy search: each cell's mean over its samples, shrunk towards a model.

With ``--retrain-duplicates`` a cell proposed again is trained again, so the run holds several samples
of a noisy proxy for some cells and thereby measures the proxy's noise itself: the spread of a cell's
samples about their mean. Ranking cells by their raw means favours the lucky (a cell measured once,
two noise deviations high, outranks a better cell measured three times). The empirical-Bayes estimate
(Efron & Morris 1975, "Data analysis using Stein's estimator") shrinks each cell's mean towards what
the other cells predict for it -- a ridge regression on its decisions -- by how far that mean is to
be trusted: with noise variance sigma^2 (the pooled variance of the repeats), n samples of the cell and
tau^2 the model's error (the means' spread about the model less the part the noise explains),

    estimate = (n / sigma^2 * mean + 1 / tau^2 * prediction) / (n / sigma^2 + 1 / tau^2),

the posterior mean of the cell's true score under a normal prior centred on the model. It is how
Bayesian optimisation reports a best point of a noisy objective (a model's predicted best among the
evaluated points, as Ax's best-point recommendation does), with a ridge model over the decisions
standing in for the Gaussian process. When the repeats agree (a noiseless table, or CPU training with
common random numbers) there is no noise to shrink by and the estimate is the plain mean.

Measured in docs/benchmarks.md (NAS-Bench-201 table, observation noise 1.0 point, 200 children):
with ``--retrain-duplicates`` it reports cells 0.2-0.6 points better than the best mean does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MIN_REPEAT_DOF = 3
"""Degrees of freedom of the repeats (samples beyond each cell's first) below which the noise is not
estimated and every cell keeps its plain mean."""
RIDGE = 1.0
"""The model's ridge penalty on each one-hot weight (an estimate is linear in the scores, so the
penalty is independent of their scale)."""


def shrunk_means(
    samples: Mapping[str, Sequence[float]], decisions: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Cell -> its estimated true score (higher is better), from its samples and its decisions.

    ``samples``: each cell's scores, at least one; ``decisions``: each cell's decisions as tokens
    (one feature each, e.g. ``"edge 2=nor_conv_3x3"``). The plain means when the repeats have fewer
    than `MIN_REPEAT_DOF` degrees of freedom or agree exactly."""
    import numpy as np

    cells = list(samples)
    means = np.array([float(np.mean(samples[c])) for c in cells])
    counts = np.array([len(samples[c]) for c in cells], dtype=float)
    dof = int(counts.sum()) - len(cells)
    spread = sum(float(np.sum((np.asarray(samples[c]) - m) ** 2)) for c, m in zip(cells, means, strict=True))
    if dof < MIN_REPEAT_DOF or spread <= 0.0:
        return dict(zip(cells, means.tolist(), strict=True))
    noise = spread / dof  # sigma^2: the pooled variance of the repeats
    vocabulary = {token: k for k, token in enumerate(sorted({t for c in cells for t in decisions[c]}))}
    x = np.zeros((len(cells), len(vocabulary) + 1))
    x[:, -1] = 1.0  # intercept, penalised like the rest: it shifts every prediction alike
    for row, cell in enumerate(cells):
        x[row, [vocabulary[t] for t in decisions[cell]]] = 1.0
    # Ridge fit to the means, each weighted by its number of samples (a mean of n is n observations).
    weights = np.linalg.solve(
        x.T @ (x * counts[:, None]) + RIDGE * np.eye(x.shape[1]), x.T @ (counts * means)
    )
    predicted = x @ weights
    # tau^2 by moments: what the means scatter about the model beyond their own noise (floored: a
    # model that explains everything shrinks every mean onto it, but never divides by zero).
    model_error = max(float(np.mean((means - predicted) ** 2 - noise / counts)), 1e-6 * noise)
    estimates = (means * counts / noise + predicted / model_error) / (counts / noise + 1.0 / model_error)
    return dict(zip(cells, estimates.tolist(), strict=True))
