#!/usr/bin/env python3
"""PyTorch peer of benches/train_throughput.rs: the same AWD-LSTM LM, batch 32 x 64, AdamW with
clipping. `--preset awd_lstm_small` (default): 3-mer vocab 69, embedding 64, LSTMs 256/256/64;
`--preset ulmfit_paper`: seed 003's model, 5-mers at stride 2 (vocab 1029), embedding 400, LSTMs
1150/1150/400. Both: tied decoder + bias, embedding dropout, DropConnect on the hidden-to-hidden
weights, locked dropout, AR/TAR, dropouts scaled by genolm's drop_mult (0.2 / 0.3).
Tokens are real: k-mers of the embedded genomes read from the datasets folder.

Prints one JSON line like the Rust bench.
Usage: awd_lstm_torch.py [--batches N] [--threads T] [--preset NAME] [--batch B] [--bptt T]
"""
import argparse, gzip, json, os, resource, time, glob

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

ap = argparse.ArgumentParser()
ap.add_argument("--batches", type=int, default=20)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--device", default="cpu", help="cpu or cuda (timings synchronise the GPU)")
ap.add_argument("--preset", default="awd_lstm_small", choices=["awd_lstm_small", "ulmfit_paper"])
ap.add_argument("--batch", type=int, default=32, help="rows per batch (genolm: --batch)")
ap.add_argument("--bptt", type=int, default=64, help="tokens per row (genolm: --bptt)")
args = ap.parse_args()
dev = torch.device(args.device)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

K, STRIDE = (5, 2) if args.preset == "ulmfit_paper" else (3, 1)
torch.set_num_threads(args.threads)
torch.manual_seed(1)

root = os.path.join(os.path.dirname(__file__), "..", "..", "datasets")
code = {c: i for i, c in enumerate("ACGT")}
ids = []
for path in sorted(glob.glob(os.path.join(root, "*", "*.fa.gz"))):
    seq = "".join(l.strip() for l in gzip.open(path, "rt") if not l.startswith(">")).upper()
    for i in range(0, len(seq) - K + 1, STRIDE):
        kmer = seq[i : i + K]
        if all(ch in code for ch in kmer):
            v = 0
            for ch in kmer:
                v = v * 4 + code[ch]
            ids.append(5 + v)
    if len(ids) > 2_000_000:
        break
data = torch.tensor(ids, dtype=torch.long)  # batches move to `dev` as they are drawn

if args.preset == "ulmfit_paper":
    V, E, H, L, dm = 5 + 4**5, 400, 1150, 3, 0.3
else:
    V, E, H, L, dm = 5 + 4**3, 64, 256, 3, 0.2
p_emb, p_in, p_w, p_h, p_out = 0.02 * dm, 0.1 * dm, 0.15 * dm, 0.1 * dm, 0.25 * dm


class AWD(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnns = nn.ModuleList(
            [nn.LSTM(E if i == 0 else H, E if i == L - 1 else H, batch_first=True) for i in range(L)]
        )
        self.bias = nn.Parameter(torch.zeros(V))

    def forward(self, x):
        w = self.emb.weight
        if self.training:
            mask = w.new_empty(V, 1).bernoulli_(1 - p_emb) / (1 - p_emb)
            w = w * mask
        h = F.embedding(x, w)
        if self.training:
            h = h * (h.new_empty(h.size(0), 1, h.size(2)).bernoulli_(1 - p_in) / (1 - p_in))
        raw = None
        for i, rnn in enumerate(self.rnns):
            whh = rnn.weight_hh_l0
            dropped = F.dropout(whh, p_w, training=self.training)
            h, _ = functional_call(rnn, {"weight_hh_l0": dropped}, (h,))
            if i < L - 1 and self.training:
                h = h * (h.new_empty(h.size(0), 1, h.size(2)).bernoulli_(1 - p_h) / (1 - p_h))
            if i == L - 1:
                raw = h
        d = h
        if self.training:
            d = h * (h.new_empty(h.size(0), 1, h.size(2)).bernoulli_(1 - p_out) / (1 - p_out))
        logits = F.linear(d, self.emb.weight, self.bias)
        pen = 2.0 * d.pow(2).mean() + 1.0 * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        return logits, pen


model = AWD().to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-6, weight_decay=1e-2)
B, T = args.batch, args.bptt
n = (len(data) - 1) // (B * T)


def batch(i):
    s = (i % n) * B * T
    x = data[s : s + B * T].view(B, T)
    y = data[s + 1 : s + 1 + B * T].view(B, T)
    return x.to(dev), y.to(dev)


def step(i):
    x, y = batch(i)
    logits, pen = model(x)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)) + pen
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


model.train()
for i in range(args.warmup):
    step(i)
sync()
t0 = time.perf_counter()
for i in range(args.batches):
    step(args.warmup + i)
sync()
secs = time.perf_counter() - t0
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
    "impl": "pytorch", "device": args.device, "torch": torch.__version__, "params": sum(p.numel() for p in model.parameters()),
    "batch": B, "bptt": T, "batches": args.batches, "seconds": round(secs, 3),
    "tokens_per_s": round(args.batches * B * T / secs, 1), "threads": torch.get_num_threads(),
    "infer_tokens_per_s": round(args.batches * B * T / isecs, 1),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
