// Embedding lookup (embed.wgsl): dequantized rows of a weight matrix for token ids.
import { gpuType } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { DEQUANT_SHADERS, SHADERS } from '../shaders.ts';
import type { GpuWeight } from '../weights.ts';
import { ShapeError } from './quant.ts';

export interface EmbedArgs {
  weight: GpuWeight;
  tokens: GPUBuffer;
  tokOff?: number;
  /** Tokens to look up (workgroups). */
  count: number;
  y: GPUBuffer;
  yOff?: number;
  scale?: number;
  label?: string;
}

export async function embedOps(session: GPUSession, args: EmbedArgs): Promise<Op[]> {
  const w = args.weight;
  if (w.count !== 1) throw new ShapeError(`${w.name}: an embedding table is one matrix`);
  const t = gpuType(w.type, w.name);
  const kernel = await session.pipelines.get({
    sources: [SHADERS.half, SHADERS.quantCommon, DEQUANT_SHADERS[t.file], SHADERS.posScale, SHADERS.embed], entry: 'embed', overrides: { POS: t.pos, B3: t.b3 ? 1 : 0 },
  });
  return w.parts.map((p, i) => new Op(session, kernel, { w4: p.buffer, w1: p.buffer, tokens: args.tokens, y: args.y }, {
    k: w.k, q_off: p.layout.qOff, h_off: p.layout.hOff, m_off: p.layout.mOff, q4: p.layout.qOff / 4, m4: p.layout.mOff / 4, row0: p.row0, row_end: p.rowEnd,
    tok_off: args.tokOff ?? 0, y_off: args.yOff ?? 0, s32: t.act === 'q8_1' ? 1 : 0, scale: args.scale ?? 1,
  }, [args.count], `${args.label ?? 'embed'}${w.parts.length > 1 ? `#${i}` : ''}`));
}
