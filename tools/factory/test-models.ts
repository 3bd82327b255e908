// Factory models that more than one backend's tests run against llama.cpp: the same file, the
// same prompt, so the WebGPU engine's and the WASM backend's results are comparable.
import { GGMLType } from '../../src/gguf/types.ts';
import type { HParams } from '../../src/model/hparams.ts';
import { seededRandom } from '../../src/util/random.ts';
import { makeModel, type FactoryOptions } from './make-model.ts';

/** `n` random ids of the factory vocabulary (1257 tokens; the last, id 1256, is the end token). */
export function randomPrompt(seed: number, n: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => r.int(1256));
}

/** gpt-oss in small: MXFP4 routed experts (by default), Q8_0 dense, a sliding window of 16 on
 *  even layers (shorter than the 20-token prompt) with its own RoPE base, YaRN factor 32 on the
 *  others, sinks and every bias. */
export const GPT_OSS = {
  window: 16,
  nCtx: 64,
  prompt: randomPrompt(41, 20),
  hp: {
    nLayer: 4, nEmbd: 128, nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64, nExpert: 8, nExpertUsed: 4, nFfExp: 128, nFf: 128,
    nSwa: 16, ropeBase: 150000, ropeBaseSwa: 10000, nCtxTrain: 131072, ropeScaling: 'yarn', ropeScaleFactor: 32, nCtxOrigYarn: 4096,
  } satisfies Partial<HParams>,
  make(expertType: GGMLType = GGMLType.MXFP4): Uint8Array {
    return makeModel({ arch: 'gpt-oss', type: GGMLType.Q8_0, seed: 31, hp: GPT_OSS.hp, typeOverrides: [{ match: /_exps\.weight$/, type: expertType }] });
  },
};

/** Narrow (embedding 128, two heads of 64 sharing one kv head, FFN 256) to keep a 1,100-token
 *  prefill quick; two layers. */
const SMALL: Partial<HParams> = { nEmbd: 128, nHead: 2, nHeadKv: 1, nFf: 256 };
const LLAMA: Partial<HParams> = { ...SMALL, ropeBase: 500000, nCtxTrain: 131072 };
const QWEN3: Partial<HParams> = { ...SMALL, ropeBase: 1e6, nCtxTrain: 131072 };

/** RoPE scaling over a long prompt: a Llama-3.2-1B-shaped model with rope_freqs (factor 32,
 *  frequency factors 1 and 4, original context 8192) and Qwen3-shaped models with YaRN (factor 4
 *  over 32k) and linear scaling (factor 4); each with its unscaled twin (same weights). */
export const ROPE_SCALING = {
  /** Context of every program (llama.cpp pads its KV cache view to 256 cells). */
  nCtx: 1280,
  prompt: randomPrompt(11, 1100),
  cases: [
    {
      label: 'llama, Llama 3.2 rope_freqs',
      options: { arch: 'llama', seed: 21, hp: LLAMA, llama3Rope: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 } },
      unscaled: { arch: 'llama', seed: 21, hp: LLAMA },
    },
    {
      label: 'qwen3, YaRN factor 4 over 32768',
      options: { arch: 'qwen3', seed: 22, hp: { ...QWEN3, ropeScaling: 'yarn', ropeScaleFactor: 4, nCtxOrigYarn: 32768 } },
      unscaled: { arch: 'qwen3', seed: 22, hp: QWEN3 },
    },
    {
      label: 'qwen3, linear factor 4',
      options: { arch: 'qwen3', seed: 23, hp: { ...QWEN3, ropeScaling: 'linear', ropeScaleFactor: 4 } },
      unscaled: { arch: 'qwen3', seed: 23, hp: QWEN3 },
    },
  ] satisfies { label: string; options: FactoryOptions; unscaled: FactoryOptions }[],
};

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
