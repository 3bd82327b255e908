"""A llama-architecture Mixture-of-Experts decoder computed the way llama.cpp computes arch `llama`
with experts (the Mixtral layout), so the exported weights run unchanged in llama.cpp:

  x = token_embd[ids]                                       (B, T, D)
  per layer:
    h = x + wo @ attn(rope(wq @ rms(x)), rope(wk @ rms(x)), wv @ rms(x))   causal, GQA, scale 1/sqrt(hd)
    x = h + moe(rms(h))   router softmax over all experts -> top-k -> weights renormalized to sum 1,
                          expert = down @ (silu(gate @ v) * (up @ v))
  logits = token_embd @ rms(x)                              tied output head

RMSNorm: x / sqrt(mean(x^2) + eps) * w (ggml_rms_norm then mul). RoPE "normal" mode (ggml mode 0):
rotates adjacent pairs (x[2i], x[2i+1]) by pos * freq_base^(-2i/head_dim). GQA: query head h reads
kv head h // (n_head / n_head_kv), as ggml's mul_mat broadcast does.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    n_vocab: int
    n_ctx: int = 256          # training context, tokens
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 256           # hidden size of one expert
    n_expert: int = 8
    n_expert_used: int = 2
    rms_eps: float = 1e-5
    rope_base: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(cfg: Config, n_pos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (n_pos, head_dim/2): angle[p, i] = p * base^(-2i/head_dim)."""
    hd = cfg.head_dim
    inv_freq = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (B, T, H, hd); rotate pairs (x[2i], x[2i+1]) (ggml normal mode, not NeoX halves)."""
    B, T, H, hd = x.shape
    xp = x.view(B, T, H, hd // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    c, s = cos[:T, None, :], sin[:T, None, :]                         # (T, 1, hd/2)
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).view(B, T, H, hd)


class Layer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        D, hd, F_, E = cfg.n_embd, cfg.head_dim, cfg.n_ff, cfg.n_expert
        self.cfg = cfg
        self.attn_norm = nn.Parameter(torch.ones(D))
        self.wq = nn.Parameter(torch.empty(cfg.n_head * hd, D))       # torch Linear layout (out, in)
        self.wk = nn.Parameter(torch.empty(cfg.n_head_kv * hd, D))
        self.wv = nn.Parameter(torch.empty(cfg.n_head_kv * hd, D))
        self.wo = nn.Parameter(torch.empty(D, cfg.n_head * hd))
        self.ffn_norm = nn.Parameter(torch.ones(D))
        self.router = nn.Parameter(torch.empty(E, D))
        self.gate = nn.Parameter(torch.empty(E, F_, D))               # per expert (out, in)
        self.up = nn.Parameter(torch.empty(E, F_, D))
        self.down = nn.Parameter(torch.empty(E, D, F_))

    def attention(self, x, cos, sin, mask):
        cfg = self.cfg
        B, T, _ = x.shape
        hd, H, Hkv = cfg.head_dim, cfg.n_head, cfg.n_head_kv
        q = rope((x @ self.wq.t()).view(B, T, H, hd), cos, sin).transpose(1, 2)      # (B, H, T, hd)
        k = rope((x @ self.wk.t()).view(B, T, Hkv, hd), cos, sin).transpose(1, 2)    # (B, Hkv, T, hd)
        v = (x @ self.wv.t()).view(B, T, Hkv, hd).transpose(1, 2)
        k = k.repeat_interleave(H // Hkv, dim=1)                                     # (B, H, T, hd)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + mask[:T, :T]       # (B, H, T, T)
        y = F.softmax(att, dim=-1) @ v                                               # (B, H, T, hd)
        return y.transpose(1, 2).reshape(B, T, H * hd) @ self.wo.t()

    def moe(self, x):
        """x: (N, D) -> (out (N, D), probs (N, E), top-k expert ids (N, k))."""
        cfg = self.cfg
        probs = F.softmax(x @ self.router.t(), dim=-1)                                # (N, E)
        topw, topi = probs.topk(cfg.n_expert_used, dim=-1)                            # (N, k)
        topw = topw / topw.sum(-1, keepdim=True)                                      # renormalize to 1
        out = torch.zeros_like(x)
        for e in range(cfg.n_expert):
            tok, slot = (topi == e).nonzero(as_tuple=True)                            # assignments to e
            if tok.numel() == 0:
                continue
            xe = x[tok]                                                               # (n_e, D)
            h = F.silu(xe @ self.gate[e].t()) * (xe @ self.up[e].t())                 # (n_e, F)
            out.index_add_(0, tok, (h @ self.down[e].t()) * topw[tok, slot, None])
        return out, probs, topi

    def forward(self, x, cos, sin, mask):
        cfg = self.cfg
        x = x + self.attention(rms_norm(x, self.attn_norm, cfg.rms_eps), cos, sin, mask)
        B, T, D = x.shape
        y, probs, topi = self.moe(rms_norm(x, self.ffn_norm, cfg.rms_eps).view(B * T, D))
        return x + y.view(B, T, D), probs, topi


class MoeLM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.tok_embd = nn.Parameter(torch.empty(cfg.n_vocab, cfg.n_embd))
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.n_layer))
        self.output_norm = nn.Parameter(torch.ones(cfg.n_embd))
        cos, sin = rope_tables(cfg, cfg.n_ctx)
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        mask = torch.full((cfg.n_ctx, cfg.n_ctx), float('-inf')).triu(1)               # causal, additive
        self.register_buffer('mask', mask, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        nn.init.normal_(self.tok_embd, std=std)
        for layer in self.layers:
            for p in (layer.wq, layer.wk, layer.wv, layer.gate, layer.up, layer.router):
                nn.init.normal_(p, std=std)
            # Residual-branch outputs scaled down with depth (GPT-2 init) so the stream starts calm.
            for p in (layer.wo, layer.down):
                nn.init.normal_(p, std=std / math.sqrt(2 * self.cfg.n_layer))

    def forward(self, ids):
        """ids: (B, T) -> logits (B, T, V), per-layer [(probs (N, E), top-k ids (N, k))]."""
        x = self.tok_embd[ids]
        routing = []
        for layer in self.layers:
            x, probs, topi = layer(x, self.cos, self.sin, self.mask)
            routing.append((probs, topi))
        x = rms_norm(x, self.output_norm, self.cfg.rms_eps)
        return x @ self.tok_embd.t(), routing


def load_balance_loss(routing, n_expert: int) -> torch.Tensor:
    """Switch-Transformer auxiliary loss, mean over layers: E * sum_e f_e * P_e, where f_e is the
    fraction of top-k assignments going to expert e and P_e its mean router probability.
    Equals 1 for perfectly uniform routing and grows as routing collapses."""
    total = 0.0
    for probs, topi in routing:
        f = torch.bincount(topi.flatten(), minlength=n_expert).float() / topi.numel()
        total = total + n_expert * (f * probs.mean(0)).sum()
    return total / len(routing)
