#!/usr/bin/python3
"""PyTorch reference for package text: the character CNN (text.CharCNN) on random weights.

Writes OUT/weights.pth (random init, torch.manual_seed(0)), OUT/input.npy (the character
indices of a 32-character text padded to 40), OUT/logits.npy, and for classes 1 and 3:
  OUT/<class>/relu<w>.npy      Grad-CAM at the ReLU of width w: ReLU(sum_k mean_t(dy/dA_k) A_k)
  OUT/<class>/combined.npy     the three upsampled to 40 (F.interpolate linear, align_corners=False)
                               and averaged
  OUT/<class>/counterfactual.npy  the same with the gradients negated
y is the class's logit.

Usage: reference.py OUT
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

V, L, E, FILTERS, CLASSES, TEXT = 30, 40, 8, 6, 5, 32
WIDTHS = (3, 4, 5)


class CharCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Conv1d(V, E, 1, bias=False)  # = nn.Embedding on the one-hot code
        for w in WIDTHS:
            setattr(self, f"conv{w}", nn.Conv1d(E, FILTERS, w))
        self.fc = nn.Linear(FILTERS * len(WIDTHS), CLASSES)
        self.acts = {}

    def forward(self, idx):
        h = self.embed(F.one_hot(idx, V).float().transpose(1, 2))
        feats = []
        for w in WIDTHS:
            a = torch.relu(getattr(self, f"conv{w}")(h))
            if a.requires_grad:
                a.retain_grad()
            self.acts[w] = a
            feats.append(a.max(2)[0])
        return self.fc(torch.cat(feats, 1))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = CharCNN().eval()
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))
    idx = torch.zeros(1, L, dtype=torch.long)
    idx[0, :TEXT] = torch.randint(2, V, (TEXT,))
    np.save(os.path.join(out, "input.npy"), idx.numpy().astype(np.float32))
    with torch.no_grad():
        np.save(os.path.join(out, "logits.npy"), model(idx).numpy())
    for cls in (1, 3):
        d = os.path.join(out, str(cls))
        os.makedirs(d, exist_ok=True)
        model.zero_grad()
        y = model(idx)[0, cls]
        y.backward()
        for name, sign in (("combined", 1), ("counterfactual", -1)):
            total = torch.zeros(L)
            for w in WIDTHS:
                a, g = model.acts[w][0].detach(), sign * model.acts[w].grad[0]
                low = torch.relu((g.mean(1)[:, None] * a).sum(0))
                if sign == 1:
                    np.save(os.path.join(d, f"relu{w}.npy"), low.numpy())
                total += F.interpolate(low[None, None], size=L, mode="linear", align_corners=False)[0, 0] / len(WIDTHS)
            np.save(os.path.join(d, name + ".npy"), total.numpy())


if __name__ == "__main__":
    main()
