"""Quantus's localisation and complexity metrics on maps and masks the Go test wrote, for
TestQuantusMetricsMatch (metrics/quantus_test.go): Quantus itself, from ../shared/peers/quantus,
called one map at a time (Quantus normalises a batch by its largest value; one map per call makes
that the map's own, as the Go metrics do).

Reads IN/maps.npy [N, H, W], IN/masks.npy [N, H, W] (0/1) and IN/classes.npy [N] (the classes
sufficiency compares), computes in float64, and writes OUT/NAME.npy [N] for each metric (the top-k
intersection with k = K; sufficiency over all N maps as one batch, and sufficiency-tied with pixel 0
set to 2, the largest value, in every map).

Usage: reference_quantus.py SHARED_DIR IN K OUT
"""
import os
import sys
import warnings

import numpy as np
import torch

SHARED, IN, K, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.dont_write_bytecode = True
for peer in ("quantus", "captum", "zennit"):
    sys.path.insert(0, os.path.join(SHARED, "peers", peer))
import quantus  # noqa: E402


class Flat(torch.nn.Module):
    """A stand-in model: these metrics read only the maps and masks."""

    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(n, 2)

    def forward(self, x):
        return self.fc(x.flatten(1))


class ClassOf(torch.nn.Module):
    """A stand-in model whose scores are the first row of the image: its top-1 is where the 1 is."""

    def __init__(self, w):
        super().__init__()
        self.w = w
        self.unused = torch.nn.Linear(1, 1)  # Quantus wants parameters

    def forward(self, x):
        return x.flatten(1)[:, :self.w]


def main():
    warnings.simplefilter("ignore")  # Quantus warns on every call (sizes, its own divide by zero)
    maps = np.load(os.path.join(IN, "maps.npy")).astype(np.float64)
    masks = np.load(os.path.join(IN, "masks.npy"))
    n, h, w = maps.shape
    model = Flat(h * w).eval()
    metrics = {
        "relevance-mass-accuracy": quantus.RelevanceMassAccuracy(disable_warnings=True),
        "relevance-rank-accuracy": quantus.RelevanceRankAccuracy(disable_warnings=True),
        "attribution-localisation": quantus.AttributionLocalisation(disable_warnings=True),
        "top-k-intersection": quantus.TopKIntersection(k=K, disable_warnings=True),
        "auc": quantus.AUC(disable_warnings=True),
        "sparseness": quantus.Sparseness(disable_warnings=True),
        "complexity": quantus.Complexity(disable_warnings=True),
        "effective-complexity": quantus.EffectiveComplexity(disable_warnings=True),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, metric in metrics.items():
        scores = []
        for i in range(n):
            x = np.zeros((1, 1, h, w), dtype=np.float64)
            a = maps[i][None, None].copy()
            s = masks[i][None, None].astype(np.float64)
            scores.append(metric(model=model, x_batch=x, y_batch=np.zeros(1, dtype=np.int64), a_batch=a, s_batch=s,
                                 device="cpu")[0])
        np.save(os.path.join(OUT, name + ".npy"), np.asarray(scores, dtype=np.float64))

    # Sufficiency compares the maps of a batch: all maps at once, the classes IN/classes.npy gives
    # (the stand-in model's top-1 reads them from the first row of x); then again with pixel 0
    # equal in every map, which leaves it no variance.
    classes = np.load(os.path.join(IN, "classes.npy")).astype(np.int64)
    assert len(set(classes.tolist())) > 1, "give sufficiency several classes"
    x = np.zeros((n, 1, h, w), dtype=np.float32)
    x[np.arange(n), 0, 0, classes] = 1
    for name, a in (("sufficiency", maps), ("sufficiency-tied", np.concatenate([np.full((n, 1), 2.0), maps.reshape(n, -1)[:, 1:]], axis=1))):
        scores = quantus.Sufficiency(disable_warnings=True)(model=ClassOf(w).eval(), x_batch=x, y_batch=classes, a_batch=a.reshape(n, 1, h, w),
                                                           device="cpu", batch_size=n)
        np.save(os.path.join(OUT, name + ".npy"), np.asarray(scores, dtype=np.float64))


if __name__ == "__main__":
    main()
