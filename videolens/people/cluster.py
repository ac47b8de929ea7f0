"""Faces of one video -> people: agglomerative clustering of unit vectors (average linkage on cosine similarity).

Two groups of faces merge while the mean similarity between their members is at least ``threshold``. The default,
:data:`THRESHOLD` = 0.94, was chosen on two sets (BENCHMARKS.md, "people"): frames of the GRID speakers (ten
clips, nine people: same-person pairs 0.976-0.999, different people 0.93 at most, the closest pair two women of
similar looks) and the labelled photo pairs of ``../shared/data/faces/verification`` (same person 0.927-0.99,
different people 0.936 at most; 0.94 accepts none of the 1,552 impostor pairs and about 95 % of the genuine ones).
Faces of one person within one video are closer than photos taken years apart, and average linkage over many faces
is steadier than one pair, so the threshold sits at the top of the impostor range.

>>> import numpy as np
>>> v = np.array([[1, 0], [0.99, 0.14], [0, 1]], np.float32)
>>> cluster(v / np.linalg.norm(v, axis=1, keepdims=True), threshold=0.9).tolist()
[0, 0, 1]
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.94


def cluster(vectors: np.ndarray, threshold: float = THRESHOLD, weights: np.ndarray | None = None) -> np.ndarray:
    """Cluster labels (0, 1, ... in order of first appearance) of unit row vectors; ``weights``: how many faces each
    row stands for (a track's mean counts as its faces), used in the average linkage."""
    v = np.asarray(vectors, np.float64)
    n = len(v)
    if n == 0:
        return np.zeros(0, np.int64)
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    # Sum of similarities between groups, and group sizes: average linkage = sums / (size_a * size_b).
    sums = (v @ v.T) * np.outer(w, w)
    size = w.copy()
    alive = np.ones(n, bool)
    members = [[i] for i in range(n)]
    np.fill_diagonal(sums, -np.inf)
    while alive.sum() > 1:
        avg = sums / np.outer(size, size)
        avg[~alive] = -np.inf
        avg[:, ~alive] = -np.inf
        i, j = np.unravel_index(int(np.argmax(avg)), avg.shape)
        if avg[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        sums[i] += sums[j]
        sums[:, i] += sums[:, j]
        sums[i, i] = -np.inf
        size[i] += size[j]
        alive[j] = False
        members[i] += members[j]
        members[j] = []
    labels = np.empty(n, np.int64)
    groups = sorted((min(m), m) for m in members if m)
    for k, (_, m) in enumerate(groups):
        labels[m] = k
    return labels
