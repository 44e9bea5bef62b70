#!/usr/bin/python3
"""PyTorch reference for the shipped captioning model (pretrained/caption): the same network in
PyTorch on the same weights, with the caption held fixed, and Grad-CAM of each word's
log-probability given the words before it and of the whole caption's (autograd and hooks).

Inputs (written by pretrained/caption's test): WEIGHTS (caption.safetensors) and CASES, a folder with
cases.json [{"tokens": [...], "length": L, "next": [...]}] ("next": the word each step should
predict, -1 after the end) and image_K.npy ([1, 3, S, S]) per case K. For each case it writes
OUT/K/logits.npy ([1, steps*words], float32; zeros past the caption's end, where the Go model's
outputs are not PyTorch's), and, computed in float64 (a word the model is sure of has a
log-probability gradient of 1 - p, below float32's resolution), OUT/K/step_<k>/gradcam.npy and
gradcam_lowres.npy, and OUT/K/whole/...

Usage: reference_caption.py WEIGHTS CASES OUT
"""
# depends on: testnets/reference.py
# depends on: models/testdata/reference.py
import json
import os
import sys

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root, for its reference scripts


class Captioner(tnn.Module):
    """CNN (conv16-ReLU-pool, conv32-ReLU-pool, conv64-ReLU [features], pool) -> flatten -> linear:
    the image vector, which the GRU decoder reads at every step beside the word before (padding at
    step 0); a linear layer scores the words at every step. The caption is held fixed."""

    def __init__(self, vocab, image_dim, hidden, words, length, steps):
        super().__init__()
        self.conv1, self.relu1, self.pool1 = tnn.Conv2d(3, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2)
        self.conv3, self.features, self.pool3 = tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2)
        self.image = tnn.Linear(64 * 6 * 6, image_dim)
        self.embed = tnn.Embedding(vocab, 32)
        self.gru = tnn.GRU(32 + image_dim, hidden, batch_first=True)
        self.out = tnn.Linear(hidden, vocab)
        self.words, self.length, self.steps, self.vocab = words, length, steps, vocab

    def forward(self, x):
        b = x.shape[0]
        f = self.pool3(self.features(self.conv3(self.pool2(self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x)))))))))
        img = self.image(f.flatten(1))
        prev = torch.cat([torch.zeros(b, 1, dtype=torch.long), self.words.expand(b, -1)], 1)
        seq = torch.cat([self.embed(prev), img[:, None].expand(-1, self.steps, -1)], -1)
        n = self.length + 1  # the image step, then the words
        states, _ = self.gru(seq[:, :n])
        logits = self.out(states)  # [B, n, V]
        full = torch.zeros(b, self.steps, self.vocab, dtype=logits.dtype)
        full[:, :n] = logits
        return full.reshape(b, -1)


def main():
    weights, cases_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    import testnets.reference as testnets
    state = testnets.models_ref.read_safetensors(weights)
    vocab, image_dim, hidden = state["embed.weight"].shape[0], state["image.weight"].shape[0], state["gru.weight_hh_l0"].shape[1]
    with open(os.path.join(cases_dir, "cases.json")) as f:
        cases = json.load(f)
    for k, case in enumerate(cases):
        steps = len(case["next"])
        model = Captioner(vocab, image_dim, hidden, torch.tensor([case["tokens"]], dtype=torch.long), case["length"], steps)
        model.load_state_dict(state)
        model.eval()
        x = torch.from_numpy(np.load(os.path.join(cases_dir, f"image_{k}.npy")))
        d = os.path.join(out, str(k))
        os.makedirs(d, exist_ok=True)
        store = {}

        def hook(m, inp, o):
            store["A"] = o
            if o.requires_grad:
                o.register_hook(lambda g: store.__setitem__("dA", g))

        with torch.no_grad():
            np.save(os.path.join(d, "logits.npy"), model(x).numpy())
        model, x = model.double(), x.double()
        model.features.register_forward_hook(hook)
        targets = [(f"step_{s}", [(s, w)]) for s, w in enumerate(case["next"]) if w >= 0]
        targets.append(("whole", [(s, w) for s, w in enumerate(case["next"]) if w >= 0]))
        for name, words in targets:
            xi = x.clone().requires_grad_(True)
            logp = F.log_softmax(model(xi).reshape(1, steps, vocab), -1)
            sum(logp[0, s, w] for s, w in words).backward()
            A, dA = store["A"][0].detach(), store["dA"][0]
            low = torch.relu((dA.mean((1, 2))[:, None, None] * A).sum(0))
            o = os.path.join(d, name)
            os.makedirs(o, exist_ok=True)
            np.save(os.path.join(o, "gradcam_lowres.npy"), low.numpy().astype(np.float32))
            np.save(os.path.join(o, "gradcam.npy"), testnets.normalize_upsample(low, list(x.shape[2:])).numpy().astype(np.float32))
        print("case", k, "done", flush=True)


if __name__ == "__main__":
    main()
