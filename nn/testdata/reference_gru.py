#!/usr/bin/python3
"""PyTorch reference for nn.Builder.Embedding and nn.Builder.GRU.

An embedding (vocabulary 11, dimension 5) and a one-layer GRU (hidden 7, batch_first) with
PyTorch's seeded initialization, on 3 sequences of token ids padded to 6 steps with lengths 6, 4
and 2 (pack_padded_sequence). The loss is sum(h_n * C) + sum(output * D) over the valid steps, C
and D seeded N(0, 1).

Writes OUT/ids.npy (int32 [3, 6]), lengths.npy (int32 [3]), c.npy, d.npy, the parameters
(embedding.weight.npy, gru.weight_ih_l0.npy, ...), h_n.npy [3, 7], output.npy [3, 6, 7] (zeros
after each sequence's end), loss.npy, and grad_<parameter>.npy.

Usage: reference_gru.py OUT
"""
import os
import sys

import numpy as np
import torch


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    emb = torch.nn.Embedding(11, 5)
    gru = torch.nn.GRU(5, 7, batch_first=True)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 11, (3, 6), generator=g)
    lengths = torch.tensor([6, 4, 2])
    c = torch.randn(3, 7, generator=g)
    d = torch.randn(3, 6, 7, generator=g)
    x = emb(ids)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=True)
    output, h_n = gru(packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=6)
    h_n = h_n[0]
    loss = (h_n * c).sum() + (output * d).sum()
    loss.backward()
    save = lambda name, a: np.save(os.path.join(out, name + ".npy"), a)
    save("ids", ids.numpy().astype(np.int32))
    save("lengths", lengths.numpy().astype(np.int32))
    save("c", c.numpy())
    save("d", d.numpy())
    save("h_n", h_n.detach().numpy())
    save("output", output.detach().numpy())
    save("loss", np.array([loss.item()], dtype=np.float32))
    for prefix, module in (("embedding", emb), ("gru", gru)):
        for name, p in module.named_parameters():
            save(prefix + "." + name, p.detach().numpy())
            save("grad_" + prefix + "." + name, p.grad.numpy())


if __name__ == "__main__":
    main()
