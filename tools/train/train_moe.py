"""Trains the tiny MoE language model on the token streams of tools/train/prepare.ts, under a hard
wall-time budget, then exports it for tools/train/to-gguf.ts.

  /usr/bin/python3 tools/train/train_moe.py [--minutes 25] [--resume] [--export-only]

Reads  <data>/train.bin, <data>/val.bin (uint16 ids), <data>/meta.json
Writes <data>/ckpt.pt (every --ckpt-every seconds, atomically), <data>/export/ (tensors.json,
       weights.bin, config.json, reference.json: torch's greedy continuations of meta's prompts)
The learning rate follows a cosine over the *wall-time* budget, so the schedule ends when the
budget does, whatever speed the machine has today (other jobs share its 2 cores).
"""
import os
import sys

# Thread setup must precede `import torch`. (1) libgomp's default active spin-wait collapses when
# other processes share the 2 cores (a step went from 1.2 s to 15 s); passive waiting stays ~2 s.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
# (2) Debian's torch calls whatever libblas.so.3 the system provides; the reference BLAS does
# ~4 GFLOP/s, OpenBLAS ~45. The OpenMP build of OpenBLAS shares torch's thread pool instead of
# spinning its own threads against it, so prefer it for this process (re-exec: ld.so reads
# LD_LIBRARY_PATH only at start).
OPENBLAS_OMP = '/usr/lib/x86_64-linux-gnu/openblas-openmp'
if os.path.isdir(OPENBLAS_OMP) and OPENBLAS_OMP not in os.environ.get('LD_LIBRARY_PATH', ''):
    os.environ['LD_LIBRARY_PATH'] = OPENBLAS_OMP + ':' + os.environ.get('LD_LIBRARY_PATH', '')
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse
import json
import math
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moe_model import Config, MoeLM, load_balance_loss  # noqa: E402
from export import export                               # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='.cache/train')
    p.add_argument('--minutes', type=float, default=25.0, help='hard wall-time budget of the training loop')
    p.add_argument('--n-embd', type=int, default=128)
    p.add_argument('--n-layer', type=int, default=4)
    p.add_argument('--n-head', type=int, default=4)
    p.add_argument('--n-head-kv', type=int, default=2)
    p.add_argument('--n-ff', type=int, default=256, help='hidden size of one expert')
    p.add_argument('--n-expert', type=int, default=8)
    p.add_argument('--n-expert-used', type=int, default=2)
    p.add_argument('--ctx', type=int, default=256, help='training context, tokens')
    p.add_argument('--batch', type=int, default=8, help='sequences per step (small: more updates per CPU-second)')
    p.add_argument('--lr', type=float, default=5e-3, help='peak AdamW learning rate')
    p.add_argument('--min-lr', type=float, default=5e-4, help='learning rate at the end of the cosine')
    p.add_argument('--warmup', type=int, default=40, help='linear warmup, steps')
    p.add_argument('--weight-decay', type=float, default=0.1)
    p.add_argument('--aux', type=float, default=0.01, help='load-balancing loss coefficient')
    p.add_argument('--eval-every', type=float, default=300, help='seconds between validation passes')
    p.add_argument('--ckpt-every', type=float, default=120, help='seconds between checkpoints')
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--resume', action='store_true', help='continue from <data>/ckpt.pt')
    p.add_argument('--export-only', action='store_true', help='export <data>/ckpt.pt, no training')
    return p.parse_args()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def blas_in_use() -> str:
    with open('/proc/self/maps') as f:
        libs = {line.split()[-1] for line in f if 'blas' in line}
    return ', '.join(sorted(libs)) or 'unknown'


def batch(data: np.ndarray, rng: np.random.Generator, B: int, T: int):
    """B random windows of T+1 tokens -> inputs (B, T), targets (B, T) as int64."""
    starts = rng.integers(0, len(data) - T - 1, size=B)
    w = np.stack([data[s:s + T + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(w[:, :-1]), torch.from_numpy(w[:, 1:])


@torch.no_grad()
def evaluate(model, data: np.ndarray, T: int, max_windows: int, B: int = 16):
    """Mean cross-entropy (nats/token) over consecutive non-overlapping windows of the val stream,
    and the per-layer count of top-k assignments per expert."""
    model.eval()
    n = min(max_windows, (len(data) - 1) // T)
    tot, cnt = 0.0, 0
    usage = torch.zeros(model.cfg.n_layer, model.cfg.n_expert, dtype=torch.long)
    for i in range(0, n, B):
        idx = range(i, min(n, i + B))
        w = torch.from_numpy(np.stack([data[j * T: j * T + T + 1] for j in idx]).astype(np.int64))
        logits, routing = model(w[:, :-1])
        tot += F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), reduction='sum').item()
        cnt += w[:, 1:].numel()
        for l, (_, topi) in enumerate(routing):
            usage[l] += torch.bincount(topi.flatten(), minlength=model.cfg.n_expert)
    model.train()
    return tot / cnt, usage


@torch.no_grad()
def greedy(model, ids: list[int], n: int):
    """n greedy tokens after ids (full recompute per token: simple, and short), with their probs,
    and the top-10 (id, prob) of the first step, to compare distributions, not only argmaxes."""
    model.eval()
    ids, out, probs, top10 = list(ids), [], [], []
    for i in range(n):
        logits, _ = model(torch.tensor([ids[-model.cfg.n_ctx:]]))
        p = F.softmax(logits[0, -1], dim=-1)
        if i == 0:
            v, j = p.topk(10)
            top10 = [[int(a), round(float(b), 6)] for a, b in zip(j, v)]
        t = int(p.argmax())
        ids.append(t); out.append(t); probs.append(float(p[t]))
    model.train()
    return out, probs, top10


def decoder(vocab_tokens: list[str]):
    """GPT-2 token strings -> text (inverse of the byte-to-unicode table)."""
    printable = list(range(0x21, 0x7f)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + n)] = b
            n += 1
    def decode(ids):
        return bytes(table[c] for i in ids for c in vocab_tokens[i] if c in table).decode('utf-8', 'replace')
    return decode


def lr_at(args, step: int, progress: float) -> float:
    """Linear warmup (steps), then cosine from --lr to --min-lr over the wall-time progress [0, 1]."""
    cos = args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))
    return cos * min(1.0, (step + 1) / args.warmup)


def make_optimizer(model, args):
    # Decay the matrices; not the norm gains, not the embedding (it is also the output head).
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n != 'tok_embd']
    other = [p for n, p in model.named_parameters() if p.dim() < 2 or n == 'tok_embd']
    return torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                              {'params': other, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95))


def save_ckpt(path, model, opt, state):
    torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), **state}, path + '.tmp')
    os.replace(path + '.tmp', path)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    with open(os.path.join(args.data, 'meta.json')) as f:
        meta = json.load(f)
    train = np.fromfile(os.path.join(args.data, 'train.bin'), dtype='<u2')
    val = np.fromfile(os.path.join(args.data, 'val.bin'), dtype='<u2')
    cfg = Config(n_vocab=meta['vocabSize'], n_ctx=args.ctx, n_embd=args.n_embd, n_layer=args.n_layer,
                 n_head=args.n_head, n_head_kv=args.n_head_kv, n_ff=args.n_ff, n_expert=args.n_expert,
                 n_expert_used=args.n_expert_used)
    model = MoeLM(cfg)
    opt = make_optimizer(model, args)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'config {cfg.to_dict()}  params {n_params / 1e6:.2f} M  train {len(train)} tok  val {len(val)} tok')
    blas = blas_in_use()
    print(f'threads {torch.get_num_threads()}  OMP_WAIT_POLICY {os.environ.get("OMP_WAIT_POLICY")}  blas {blas}')
    if 'openblas' not in blas:
        print('WARNING: reference BLAS (~10x slower). Install OpenBLAS: apt-get install libopenblas0-openmp')

    ckpt_path = os.path.join(args.data, 'ckpt.pt')
    rng = np.random.default_rng(args.seed)
    state = {'step': 0, 'elapsed': 0.0, 'tokens': 0, 'history': []}
    if args.resume or args.export_only:
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        rng.bit_generator.state = ck['rng']
        torch.set_rng_state(ck['torch_rng'])
        state = {k: ck[k] for k in ('step', 'elapsed', 'tokens', 'history')}
        print(f'resumed at step {state["step"]}, {state["elapsed"] / 60:.1f} min trained')

    budget = args.minutes * 60.0
    t_start = time.time() - state['elapsed']        # wall clock of the training loop, resumes included
    last_eval = last_ckpt = time.time()
    loss_acc, aux_acc, n_acc = 0.0, 0.0, 0
    while not args.export_only and time.time() - t_start < budget:
        step = state['step']
        lr = lr_at(args, step, (time.time() - t_start) / budget)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = batch(train, rng, args.batch, args.ctx)
        logits, routing = model(x)
        ce = F.cross_entropy(logits.reshape(-1, cfg.n_vocab), y.reshape(-1))
        aux = load_balance_loss(routing, cfg.n_expert)
        opt.zero_grad(set_to_none=True)
        (ce + args.aux * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state['step'] += 1
        state['tokens'] += x.numel()
        loss_acc += ce.item(); aux_acc += aux.item(); n_acc += 1
        now = time.time()
        if state['step'] % 10 == 0:
            el = now - t_start
            print(f'step {state["step"]:5d}  train {loss_acc / n_acc:.4f}  aux {aux_acc / n_acc:.3f}  lr {lr:.2e}  '
                  f'{el / 60:5.1f} min  {state["tokens"] / el:.0f} tok/s', flush=True)
            state['history'].append({'step': state['step'], 'min': round(el / 60, 2), 'train': round(loss_acc / n_acc, 4)})
            loss_acc, aux_acc, n_acc = 0.0, 0.0, 0
        if now - last_eval > args.eval_every:
            vl, _ = evaluate(model, val, args.ctx, max_windows=32)  # 8k tokens: ~1 s on idle cores
            print(f'step {state["step"]:5d}  val {vl:.4f}', flush=True)
            state['history'].append({'step': state['step'], 'min': round((now - t_start) / 60, 2), 'val': round(vl, 4)})
            last_eval = time.time()
        if now - last_ckpt > args.ckpt_every:
            state['elapsed'] = time.time() - t_start
            save_ckpt(ckpt_path, model, opt, {**state, 'rng': rng.bit_generator.state, 'torch_rng': torch.get_rng_state()})
            last_ckpt = time.time()

    if not args.export_only:
        state['elapsed'] = time.time() - t_start
        save_ckpt(ckpt_path, model, opt, {**state, 'rng': rng.bit_generator.state, 'torch_rng': torch.get_rng_state()})
    train_windows = 256
    tl, _ = evaluate(model, train[:train_windows * args.ctx + 1], args.ctx, max_windows=train_windows)
    vl, usage = evaluate(model, val, args.ctx, max_windows=10**9)
    frac = (usage.float() / usage.sum(1, keepdim=True)).tolist()
    print(f'final: train {tl:.4f}  val {vl:.4f} nats/token  ({state["step"]} steps, {state["tokens"]} tokens, '
          f'{state["elapsed"] / 60:.1f} min)')
    print('expert usage (fraction of top-k assignments on the val set), per layer:')
    for l, row in enumerate(frac):
        print(f'  layer {l}: ' + ' '.join(f'{v:.3f}' for v in row))

    decode = decoder(meta['vocabTokens'])
    reference = []
    for p in meta['prompts']:
        ids, probs, top10 = greedy(model, p['ids'], 32)
        reference.append({'text': p['text'], 'ids': p['ids'], 'greedy': ids, 'probs': [round(q, 5) for q in probs],
                          'top10': top10})
        print(f'greedy (torch f32) {p["text"]!r} -> {decode(ids)!r}')

    out = os.path.join(args.data, 'export')
    config = {
        **cfg.to_dict(), 'n_merges': meta['nMerges'], 'eos_id': meta['eosId'], 'params': n_params,
        'train': {'steps': state['step'], 'tokens': state['tokens'], 'minutes': round(state['elapsed'] / 60, 2),
                  'train_loss': round(tl, 4), 'val_loss': round(vl, 4), 'batch': args.batch, 'lr': args.lr,
                  'min_lr': args.min_lr, 'aux': args.aux, 'seed': args.seed, 'history': state['history']},
        'expert_usage': [[round(v, 4) for v in row] for row in frac],
    }
    export(model, config, out)
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)


if __name__ == '__main__':
    main()
