// Every WGSL file, imported as text (Vite's ?raw in the browser and vitest; bin/raw-loader.mjs in
// Node), as named sources for kernel keys and labels.
import type { KvType } from '../reference/attention.ts';
import type { KernelSource } from './kernel.ts';
import attentionWgsl from '../../shaders/attention.wgsl?raw';
import attentionHwWgsl from '../../shaders/attention_hw.wgsl?raw';
import attentionHwSgWgsl from '../../shaders/attention_hw_sg.wgsl?raw';
import attentionHwWgWgsl from '../../shaders/attention_hw_wg.wgsl?raw';
import attentionCombineWgsl from '../../shaders/attention_combine.wgsl?raw';
import elementwiseWgsl from '../../shaders/elementwise.wgsl?raw';
import embedWgsl from '../../shaders/embed.wgsl?raw';
import moeWgsl from '../../shaders/moe.wgsl?raw';
import moeSlotsWgsl from '../../shaders/moe_slots.wgsl?raw';
import ropeWgsl from '../../shaders/rope.wgsl?raw';
import sumWgsl from '../../shaders/sum.wgsl?raw';
import halfWgsl from '../../shaders/half.wgsl?raw';
import matmulWgsl from '../../shaders/matmul.wgsl?raw';
import matmulCommonWgsl from '../../shaders/matmul_common.wgsl?raw';
import matmulHwWgsl from '../../shaders/matmul_hw.wgsl?raw';
import matvecWgsl from '../../shaders/matvec.wgsl?raw';
import matvecCommonWgsl from '../../shaders/matvec_common.wgsl?raw';
import matvecRowsWgsl from '../../shaders/matvec_rows.wgsl?raw';
import rowBlocksWgsl from '../../shaders/row_blocks.wgsl?raw';
import matvecGgml32Wgsl from '../../shaders/matvec_ggml32.wgsl?raw';
import matvecGgmlQ2kWgsl from '../../shaders/matvec_ggml_q2_k.wgsl?raw';
import ggmlQ2kWgsl from '../../shaders/ggml_q2_k.wgsl?raw';
import ggmlLanesWgsl from '../../shaders/ggml_lanes.wgsl?raw';
import matvecGgmlLanesWgsl from '../../shaders/matvec_ggml_lanes.wgsl?raw';
import matmulGgmlLanesWgsl from '../../shaders/matmul_ggml_lanes.wgsl?raw';
import matmulRowsWgsl from '../../shaders/matmul_rows.wgsl?raw';
import matmulGgml32Wgsl from '../../shaders/matmul_ggml32.wgsl?raw';
import matmulGgmlQ2kWgsl from '../../shaders/matmul_ggml_q2_k.wgsl?raw';
import dot32Wgsl from '../../shaders/dot32.wgsl?raw';
import gluActWgsl from '../../shaders/glu_act.wgsl?raw';
import matvecHwWgsl from '../../shaders/matvec_hw.wgsl?raw';
import reduceSgWgsl from '../../shaders/reduce_sg.wgsl?raw';
import reduceWgWgsl from '../../shaders/reduce_wg.wgsl?raw';
import subgroupsWgsl from '../../shaders/subgroups.wgsl?raw';
import lanesSgWgsl from '../../shaders/lanes_sg.wgsl?raw';
import qBf16 from '../../shaders/q_bf16.wgsl?raw';
import qF16 from '../../shaders/q_f16.wgsl?raw';
import qF32 from '../../shaders/q_f32.wgsl?raw';
import qQ4_0 from '../../shaders/q_q4_0.wgsl?raw';
import qQ4_1 from '../../shaders/q_q4_1.wgsl?raw';
import qQ4_k from '../../shaders/q_q4_k.wgsl?raw';
import qQ5_0 from '../../shaders/q_q5_0.wgsl?raw';
import qQ5_1 from '../../shaders/q_q5_1.wgsl?raw';
import qQ5_k from '../../shaders/q_q5_k.wgsl?raw';
import qQ6_k from '../../shaders/q_q6_k.wgsl?raw';
import qQ8_0 from '../../shaders/q_q8_0.wgsl?raw';
import qQ2_k from '../../shaders/q_q2_k.wgsl?raw';
import qQ3_k from '../../shaders/q_q3_k.wgsl?raw';
import qIq4_nl from '../../shaders/q_iq4_nl.wgsl?raw';
import qMxfp4 from '../../shaders/q_mxfp4.wgsl?raw';
import qIq4_xs from '../../shaders/q_iq4_xs.wgsl?raw';
import quantActWgsl from '../../shaders/quant_act.wgsl?raw';
import quantActHwWgsl from '../../shaders/quant_act_hw.wgsl?raw';
import quantCommonWgsl from '../../shaders/quant_common.wgsl?raw';
import posScaleWgsl from '../../shaders/pos_scale.wgsl?raw';
import kvF16Wgsl from '../../shaders/kv_f16.wgsl?raw';
import kvF32Wgsl from '../../shaders/kv_f32.wgsl?raw';

const src = (name: string, text: string): KernelSource => ({ name, text });

export const SHADERS = {
  attention: src('attention.wgsl', attentionWgsl),
  attentionHw: src('attention_hw.wgsl', attentionHwWgsl),
  attentionHwSg: src('attention_hw_sg.wgsl', attentionHwSgWgsl),
  attentionHwWg: src('attention_hw_wg.wgsl', attentionHwWgWgsl),
  attentionCombine: src('attention_combine.wgsl', attentionCombineWgsl),
  elementwise: src('elementwise.wgsl', elementwiseWgsl),
  embed: src('embed.wgsl', embedWgsl),
  moe: src('moe.wgsl', moeWgsl),
  moeSlots: src('moe_slots.wgsl', moeSlotsWgsl),
  rope: src('rope.wgsl', ropeWgsl),
  sum: src('sum.wgsl', sumWgsl),
  half: src('half.wgsl', halfWgsl),
  matmul: src('matmul.wgsl', matmulWgsl),
  matmulCommon: src('matmul_common.wgsl', matmulCommonWgsl),
  matmulHw: src('matmul_hw.wgsl', matmulHwWgsl),
  matvec: src('matvec.wgsl', matvecWgsl),
  matvecCommon: src('matvec_common.wgsl', matvecCommonWgsl),
  matvecRows: src('matvec_rows.wgsl', matvecRowsWgsl),
  rowBlocks: src('row_blocks.wgsl', rowBlocksWgsl),
  matvecGgml32: src('matvec_ggml32.wgsl', matvecGgml32Wgsl),
  matvecGgmlQ2k: src('matvec_ggml_q2_k.wgsl', matvecGgmlQ2kWgsl),
  ggmlQ2k: src('ggml_q2_k.wgsl', ggmlQ2kWgsl),
  ggmlLanes: src('ggml_lanes.wgsl', ggmlLanesWgsl),
  matvecGgmlLanes: src('matvec_ggml_lanes.wgsl', matvecGgmlLanesWgsl),
  matmulGgmlLanes: src('matmul_ggml_lanes.wgsl', matmulGgmlLanesWgsl),
  matmulRows: src('matmul_rows.wgsl', matmulRowsWgsl),
  matmulGgml32: src('matmul_ggml32.wgsl', matmulGgml32Wgsl),
  matmulGgmlQ2k: src('matmul_ggml_q2_k.wgsl', matmulGgmlQ2kWgsl),
  dot32: src('dot32.wgsl', dot32Wgsl),
  gluAct: src('glu_act.wgsl', gluActWgsl),
  matvecHw: src('matvec_hw.wgsl', matvecHwWgsl),
  reduceSg: src('reduce_sg.wgsl', reduceSgWgsl),
  reduceWg: src('reduce_wg.wgsl', reduceWgWgsl),
  subgroups: src('subgroups.wgsl', subgroupsWgsl),
  /** After every file with an `enable` directive (subgroups.wgsl, kv_f16.wgsl). */
  lanesSg: src('lanes_sg.wgsl', lanesSgWgsl),
  quantAct: src('quant_act.wgsl', quantActWgsl),
  quantActHw: src('quant_act_hw.wgsl', quantActHwWgsl),
  quantCommon: src('quant_common.wgsl', quantCommonWgsl),
  posScale: src('pos_scale.wgsl', posScaleWgsl),
} as const;

/** The KV cache's element type, first in the kernels that touch the cache (f16 needs shader-f16). */
export const KV_SHADERS: Readonly<Record<KvType, KernelSource>> = { f32: src('kv_f32.wgsl', kvF32Wgsl), f16: src('kv_f16.wgsl', kvF16Wgsl) };
export type { KvType };

/** Dequantizers by file suffix (layout.ts GPU_TYPES[type].file). */
export const DEQUANT_SHADERS: Readonly<Record<string, KernelSource>> = {
  f32: src('q_f32.wgsl', qF32), f16: src('q_f16.wgsl', qF16), bf16: src('q_bf16.wgsl', qBf16),
  q8_0: src('q_q8_0.wgsl', qQ8_0), q4_0: src('q_q4_0.wgsl', qQ4_0), q4_1: src('q_q4_1.wgsl', qQ4_1),
  q5_0: src('q_q5_0.wgsl', qQ5_0), q5_1: src('q_q5_1.wgsl', qQ5_1),
  q4_k: src('q_q4_k.wgsl', qQ4_k), q5_k: src('q_q5_k.wgsl', qQ5_k), q6_k: src('q_q6_k.wgsl', qQ6_k),
  q2_k: src('q_q2_k.wgsl', qQ2_k), q3_k: src('q_q3_k.wgsl', qQ3_k),
  iq4_nl: src('q_iq4_nl.wgsl', qIq4_nl), iq4_xs: src('q_iq4_xs.wgsl', qIq4_xs), mxfp4: src('q_mxfp4.wgsl', qMxfp4),
};
