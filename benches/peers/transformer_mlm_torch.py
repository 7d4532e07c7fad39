#!/usr/bin/env python3
"""PyTorch peer of `cargo bench --bench train_throughput -- --preset transformer_mlm_small`:
the same small masked-LM transformer as genolm's preset (nucleotide tokens, vocab 9, width 128,
4 pre-LayerNorm blocks of 4 heads with RoPE, GELU feed-forward ×4, final LayerNorm, decoder tied
to the embedding + bias), bidirectional attention through PyTorch's fused
scaled_dot_product_attention, BERT masking (15 %: 80 % MASK, 10 % random, 10 % kept),
cross-entropy on the masked positions, AdamW with gradient clipping at 1.0.
Tokens are real: nucleotides of the embedded genomes read from the datasets folder.

Prints one JSON line like the Rust bench (with peak RSS). Usage:
transformer_mlm_torch.py [--batches N] [--threads T] [--batch B] [--bptt L]
"""
import argparse
import glob
import gzip
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--batches", type=int, default=20)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--device", default="cpu", help="cpu or cuda (timings synchronise the GPU)")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--bptt", type=int, default=128)
args = ap.parse_args()
dev = torch.device(args.device)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

torch.set_num_threads(args.threads)
torch.manual_seed(1)

SPECIALS, PAD, UNK, MASK = 5, 0, 1, 4
V, D, HEADS, LAYERS, FF = 9, 128, 4, 4, 4
root = os.path.join(os.path.dirname(__file__), "..", "..", "datasets")
code = {c: i for i, c in enumerate("ACGT")}
ids = []
for path in sorted(glob.glob(os.path.join(root, "*", "*.fa.gz"))):
    seq = "".join(l.strip() for l in gzip.open(path, "rt") if not l.startswith(">")).upper()
    ids.extend(SPECIALS + code[c] if c in code else UNK for c in seq)
    if len(ids) > 2_000_000:
        break
data = torch.tensor(ids, dtype=torch.long)  # batches move to `dev` as they are drawn


def rope_tables(t, d_head, base=10000.0):
    inv = 1.0 / base ** (torch.arange(0, d_head, 2).float() / d_head)
    ang = torch.arange(t).float()[:, None] * inv[None, :]
    return ang.cos().to(dev), ang.sin().to(dev)


def rope(x, cos, sin):  # x: (b, h, t, d_head), rotate-half form
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q = nn.Linear(D, D, bias=False)
        self.k = nn.Linear(D, D, bias=False)
        self.v = nn.Linear(D, D, bias=False)
        self.o = nn.Linear(D, D)
        self.ff1, self.ff2 = nn.Linear(D, FF * D), nn.Linear(FF * D, D)

    def forward(self, h, cos, sin):
        b, t, _ = h.shape
        n = self.ln1(h)
        split = lambda z: z.view(b, t, HEADS, D // HEADS).transpose(1, 2)
        q, k, v = split(self.q(n)), split(self.k(n)), split(self.v(n))
        a = F.scaled_dot_product_attention(rope(q, cos, sin), rope(k, cos, sin), v)
        h = h + self.o(a.transpose(1, 2).reshape(b, t, D))
        return h + self.ff2(F.gelu(self.ff1(self.ln2(h))))


class Mlm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D)
        self.bias = nn.Parameter(torch.zeros(V))

    def forward(self, x):
        cos, sin = rope_tables(x.shape[1], D // HEADS)
        h = self.emb(x) * math.sqrt(D)
        for blk in self.blocks:
            h = blk(h, cos, sin)
        return self.ln_f(h) @ self.emb.weight.t() + self.bias


def batch(i):
    g = torch.Generator().manual_seed(i)
    starts = torch.randint(0, len(data) - args.bptt, (args.batch,), generator=g)
    x = torch.stack([data[s : s + args.bptt] for s in starts])
    sel = torch.rand(x.shape, generator=g) < 0.15
    labels = torch.where(sel, x, torch.full_like(x, -100))
    r = torch.rand(x.shape, generator=g)
    x = torch.where(sel & (r < 0.8), torch.full_like(x, MASK), x)
    rnd = torch.randint(SPECIALS, V, x.shape, generator=g)
    x = torch.where(sel & (r >= 0.8) & (r < 0.9), rnd, x)
    return x.to(dev), labels.to(dev)


model = Mlm().to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)


def step(i):
    x, y = batch(i)
    logits = model(x)
    loss = F.cross_entropy(logits.view(-1, V), y.view(-1), ignore_index=-100)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for i in range(args.warmup):
    step(i)
sync()
t0 = time.perf_counter()
for i in range(args.batches):
    step(args.warmup + i)
sync()
secs = time.perf_counter() - t0
tokens = args.batches * args.batch * args.bptt
# inference: evaluation mode, no autograd, the same batches
model.eval()
with torch.inference_mode():
    model(batch(0)[0])
    sync()
    t1 = time.perf_counter()
    for i in range(args.batches):
        model(batch(args.warmup + i)[0])
    sync()
    isecs = time.perf_counter() - t1
print(json.dumps({
    "impl": "pytorch", "device": args.device, "torch": torch.__version__, "preset": "transformer_mlm_small",
    "params": sum(p.numel() for p in model.parameters()), "batch": args.batch, "bptt": args.bptt,
    "batches": args.batches, "seconds": round(secs, 3), "tokens_per_s": round(tokens / secs, 1),
    "threads": args.threads, "infer_tokens_per_s": round(tokens / isecs, 1),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
