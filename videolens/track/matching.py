"""Assignment between tracks and detections: IoU costs and the Hungarian method (lapx's Jonker-Volgenant, or
scipy's solver when lapx is not installed)."""

from __future__ import annotations

import numpy as np


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching keeping only pairs with ``cost <= threshold``.

    Returns ``(matches (K, 2) [row, col], unmatched_rows, unmatched_cols)``.

    >>> m, ur, uc = linear_assignment(np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]), 0.4)
    >>> m.tolist(), ur.tolist(), uc.tolist()
    ([[0, 0], [1, 1]], [2], [])
    """
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n), np.arange(m)
    try:
        import lap

        _, x, _ = lap.lapjv(cost, extend_cost=True, cost_limit=threshold)
        rows = np.flatnonzero(x >= 0)
        pairs = np.stack([rows, x[rows]], 1).astype(np.int64)
    except ImportError:
        from scipy.optimize import linear_sum_assignment

        r, c = linear_sum_assignment(np.where(cost <= threshold, cost, threshold + 1e5))
        pairs = np.stack([r, c], 1).astype(np.int64)
    if len(pairs):
        pairs = pairs[cost[pairs[:, 0], pairs[:, 1]] <= threshold]
    free_rows, free_cols = np.ones(n, bool), np.ones(m, bool)
    free_rows[pairs[:, 0]] = False
    free_cols[pairs[:, 1]] = False
    return pairs, np.flatnonzero(free_rows), np.flatnonzero(free_cols)
