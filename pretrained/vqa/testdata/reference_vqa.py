#!/usr/bin/python3
"""PyTorch reference for the shipped VQA model (pretrained/vqa): the same network in PyTorch on the
same weights, with the question held fixed, explained as testnets/reference.py explains
the nn networks (autograd and hooks).

Inputs (written by pretrained/vqa's test): WEIGHTS (vqa.safetensors) and CASES, a folder with
cases.json [{"tokens": [...], "length": L, "answers": [a, b]}] and image_K.npy ([1, 3, S, S]) per
case K. For each case it writes OUT/K/logits.npy and OUT/K/0/<answer>/<method>.npy.

Usage: reference_vqa.py PATCH STRIDE WEIGHTS CASES OUT
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


class FiLM(tnn.Module):
    """A 3x3 convolution and batch norm whose channels the question scales by (1 + scale(q)) and
    shifts by shift(q), then ReLU."""

    def __init__(self, channels, hidden):
        super().__init__()
        self.conv = tnn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = tnn.BatchNorm2d(channels)
        self.scale, self.shift = tnn.Linear(hidden, channels), tnn.Linear(hidden, channels)
        self.relu = tnn.ReLU()

    def forward(self, f, q):
        return self.relu(self.bn(self.conv(f)) * (1 + self.scale(q))[:, :, None, None] + self.shift(q)[:, :, None, None])


class VQA(tnn.Module):
    """conv16-ReLU-pool, conv32-ReLU-pool, conv64-ReLU; embedding, GRU over the question; two FiLM
    blocks (film1, fused); global average pooling; [pooled, question] -> linear 128, ReLU -> answers.
    The question is held fixed (buffers), so the module maps an image batch to answer logits."""

    def __init__(self, vocab, answers, tokens, length):
        super().__init__()
        self.conv1, self.relu1, self.pool1 = tnn.Conv2d(3, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2)
        self.conv3, self.features = tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU()
        self.embed = tnn.Embedding(vocab, 32)
        self.gru = tnn.GRU(32, 64, batch_first=True)
        self.film1, self.fused = FiLM(64, 64), FiLM(64, 64)
        self.fuse, self.relu5 = tnn.Linear(128, 128), tnn.ReLU()
        self.answer = tnn.Linear(128, answers)
        self.tokens, self.length = tokens, length

    def forward(self, x):
        b = x.shape[0]
        f = self.features(self.conv3(self.pool2(self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x))))))))
        words = self.embed(self.tokens.expand(b, -1))
        packed = tnn.utils.rnn.pack_padded_sequence(words, self.length.expand(b), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        q = h[0]
        f = self.fused(self.film1(f, q), q)
        return self.answer(self.relu5(self.fuse(torch.cat([f.mean((2, 3)), q], -1))))


def main():
    patch, stride, weights, cases_dir, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    import testnets.reference as testnets
    state = testnets.models_ref.read_safetensors(weights)
    vocab, answers = state["embed.weight"].shape[0], state["answer.weight"].shape[0]
    with open(os.path.join(cases_dir, "cases.json")) as f:
        cases = json.load(f)
    for k, case in enumerate(cases):
        tokens = torch.tensor([case["tokens"]], dtype=torch.long)
        length = torch.tensor([case["length"]], dtype=torch.long)
        make = lambda: VQA(vocab, answers, tokens, length)
        model = make()
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        model.eval()
        x = torch.from_numpy(np.load(os.path.join(cases_dir, f"image_{k}.npy")))
        d = os.path.join(out, str(k))
        os.makedirs(d, exist_ok=True)
        with torch.no_grad():
            np.save(os.path.join(d, "logits.npy"), model(x).numpy())
        testnets.explain("vqa", model, x, "fused", case["answers"], None, patch, stride, d, factory=make)
        print("case", k, "done", flush=True)


if __name__ == "__main__":
    main()
