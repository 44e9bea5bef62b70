#!/usr/bin/python3
"""Reference for features.Trustworthiness: scikit-learn's sklearn.manifold.trustworthiness.

Writes to OUT: x.npy (60 points of 8 coordinates, float32, seeded), y.npy (a 2-D embedding of
them: a random projection with noise, float32, so that neighbourhoods are partly kept) and
values.json ({"1": T(k=1), ..., "5": T(k=5)}, Euclidean).

Usage: reference_trustworthiness.py OUT
"""
import json
import os
import sys

import numpy as np
from sklearn.manifold import trustworthiness

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
x = rng.normal(size=(60, 8)).astype(np.float32)
y = (x @ rng.normal(size=(8, 2)) + 0.5 * rng.normal(size=(60, 2))).astype(np.float32)
np.save(os.path.join(OUT, "x.npy"), x)
np.save(os.path.join(OUT, "y.npy"), y)
values = {str(k): float(trustworthiness(x.astype(np.float64), y.astype(np.float64), n_neighbors=k)) for k in range(1, 6)}
with open(os.path.join(OUT, "values.json"), "w") as f:
    json.dump(values, f)
