// The two backends behind one face for the engine host: what a generation needs (forward passes
// over a KV cache that can be truncated) and what stats() reports. The WebGPU engine (src/engine)
// and the WASM CPU backend (src/wasm-backend) each get a thin wrapper; the generate loop
// (src/generate/loop.ts) runs on either.
import type { WebGPUEngine } from '../src/engine/engine.ts';
import type { WasmModel } from '../src/wasm-backend/model.ts';
import type { BackendKind } from '../src/wasm-backend/choose.ts';
import type { WorkerStats } from '../src/client/protocol.ts';

export interface Runner {
  readonly kind: BackendKind;
  /** Positions of the KV cache, and how many hold tokens. */
  readonly nCtx: number;
  readonly nPast: number;
  truncate(n: number): void;
  /** Runs ids at the next positions: the greedy next id, and the last id's logits if asked. */
  forward(ids: number[], wantLogits: boolean): Promise<{ next: number; logits?: Float32Array }>;
  stats(): WorkerStats['engine'];
  /** The WASM backend's heap (WorkerStats.wasm); undefined on WebGPU. */
  heap(): WorkerStats['wasm'];
  /** Paged experts' tiers. */
  residency(): { layers: number[]; tier: Uint8Array; lastPicks: number[][] } | null;
  destroy(): void;
  /** The WebGPU engine, for device-loss recovery and diagnostics. */
  readonly engine?: WebGPUEngine;
}

export function gpuRunner(engine: WebGPUEngine): Runner {
  return {
    kind: 'webgpu',
    engine,
    get nCtx() { return engine.nCtx; },
    get nPast() { return engine.nPast; },
    truncate: (n) => engine.truncate(n),
    forward: async (ids, wantLogits) => {
      const r = await engine.forward(ids, { logits: wantLogits ? 'last' : 'none' });
      return { next: r.next, logits: r.logits?.[0] };
    },
    stats: () => {
      const s = engine.stats;
      return {
        prefillTokens: s.prefillTokens, prefillMs: s.prefillMs, decodeTokens: s.decodeTokens, decodeMs: s.decodeMs,
        launchesPerToken: s.launchesPerToken, gpuBytes: { ...s.gpuBytes }, experts: engine.expertStats,
      };
    },
    heap: () => undefined,
    residency: () => engine.expertResidency(),
    destroy: () => engine.destroy(),
  };
}

/** The next macrotask: a forward pass of the WASM backend is synchronous, so without this a whole
 *  generation would run in one task and a cancel message could not arrive before it ended.
 *  (A MessageChannel, not setTimeout, which browsers clamp to 4 ms once nested.) */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

export function wasmRunner(model: WasmModel): Runner {
  const c = { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0 };
  return {
    kind: 'wasm',
    get nCtx() { return model.nCtx; },
    get nPast() { return model.nPast; },
    truncate: (n) => model.truncate(n),
    forward: async (ids, wantLogits) => {
      await nextTask();
      const r = await model.forwardAsync(ids, { logits: wantLogits ? 'last' : 'none' });
      const ms = model.stats.lastForwardMs;
      if (ids.length === 1) {
        c.decodeTokens++;
        c.decodeMs += ms;
      } else {
        c.prefillTokens += ids.length;
        c.prefillMs += ms;
      }
      return { next: r.next, logits: r.logits?.[0] };
    },
    stats: () => ({ ...c, launchesPerToken: 0, gpuBytes: { weights: 0, kv: 0, scratch: 0, io: 0 }, experts: null }),
    heap: () => ({ heapBytes: model.stats.heapBytes, weightBytes: model.stats.weightBytes, threads: model.threads, experts: model.expertStats }),
    residency: () => model.expertResidency(),
    destroy: () => model.close(),
  };
}
