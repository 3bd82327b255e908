"""Writes a trained MoeLM as GGUF-named f32 tensors for tools/train/to-gguf.ts:
  tensors.json  [{name, shape (GGUF order: innermost dim first), offset (bytes into weights.bin)}]
  weights.bin   little-endian f32, each tensor 32-byte aligned (GGUF's default alignment)
  config.json   hyperparameters and training summary
A torch tensor stored row-major with shape (a, b, c) has GGUF shape [c, b, a] and the same bytes:
Linear (out, in) -> [in, out]; experts (E, F, D) -> [D, F, E] with the expert index outermost.
"""
import json
import os

import torch

ALIGN = 32  # bytes


def gguf_tensors(model) -> list[tuple[str, torch.Tensor]]:
    """(GGUF name, torch tensor) in the order llama.cpp's convert scripts write them."""
    out = [('token_embd.weight', model.tok_embd)]                    # (V, D) -> [D, V]; also the tied head
    for i, L in enumerate(model.layers):
        out += [
            (f'blk.{i}.attn_norm.weight', L.attn_norm),
            (f'blk.{i}.attn_q.weight', L.wq),
            (f'blk.{i}.attn_k.weight', L.wk),
            (f'blk.{i}.attn_v.weight', L.wv),
            (f'blk.{i}.attn_output.weight', L.wo),
            (f'blk.{i}.ffn_norm.weight', L.ffn_norm),
            (f'blk.{i}.ffn_gate_inp.weight', L.router),                # (E, D) -> [D, E]
            (f'blk.{i}.ffn_gate_exps.weight', L.gate),                 # (E, F, D) -> [D, F, E]
            (f'blk.{i}.ffn_up_exps.weight', L.up),                     # (E, F, D) -> [D, F, E]
            (f'blk.{i}.ffn_down_exps.weight', L.down),                 # (E, D, F) -> [F, D, E]
        ]
    out.append(('output_norm.weight', model.output_norm))
    return out


def export(model, config: dict, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    index, offset = [], 0
    with open(os.path.join(out_dir, 'weights.bin.tmp'), 'wb') as f:
        for name, t in gguf_tensors(model):
            a = t.detach().cpu().contiguous().numpy().astype('<f4')
            pad = (-offset) % ALIGN
            f.write(b'\0' * pad)
            offset += pad
            index.append({'name': name, 'shape': list(reversed(a.shape)), 'offset': offset})
            f.write(a.tobytes())
            offset += a.nbytes
    os.replace(os.path.join(out_dir, 'weights.bin.tmp'), os.path.join(out_dir, 'weights.bin'))
    with open(os.path.join(out_dir, 'tensors.json'), 'w') as f:
        json.dump(index, f, indent=1)
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    print(f'exported {len(index)} tensors, {offset / 1e6:.2f} MB f32 -> {out_dir}')

