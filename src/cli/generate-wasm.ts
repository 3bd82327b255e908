// `webmoe generate --backend wasm [--threads N]`: the WASM CPU backend (src/wasm-backend:
// cpu.wasm, SIMD128; cpu-mt.wasm and N-1 worker threads above one) behind the generate loop's
// one-forward-pass interface.
import type { RangeSource } from '../gguf/source.ts';
import { WasmModel } from '../wasm-backend/model.ts';

export async function wasmBackend(source: RangeSource, nCtx: number, threads = 1) {
  const model = await WasmModel.load(source, { nCtx, threads });
  return {
    forward: async (ids: number[], wantLogits: boolean) => {
      const r = await model.forwardAsync(ids, { logits: wantLogits ? 'last' : 'none' });
      return { next: r.next, logits: r.logits?.[0] };
    },
    stats: (): Record<string, unknown> => ({ threads: model.threads, heapBytes: model.stats.heapBytes, weightBytes: model.stats.weightBytes }),
    destroy: () => model.close(),
  };
}
