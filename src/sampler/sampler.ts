// Typed wrapper of sampler.wasm: seeded sampling over logits (greedy, temperature, top-k, top-p,
// min-p, repetition/presence/frequency penalties, logit bias) and stop strings over streamed text.
import { statusError, TokenizerError } from '../tokenizer/errors.ts';
import { instantiate, WasmMemory, type WasmSource } from '../tokenizer/wasm.ts';

type Ptr = number;
interface Exports {
  memory: WebAssembly.Memory;
  wm_malloc(n: number): Ptr;
  wm_free(p: Ptr): void;
  smp_create(nVocab: number, status: Ptr): Ptr;
  smp_destroy(s: Ptr): void;
  smp_logits(s: Ptr): Ptr;
  smp_set(s: Ptr, key: number, value: number): number;
  smp_seed(s: Ptr, lo: number, hi: number): number;
  smp_set_bias(s: Ptr, ids: Ptr, vals: Ptr, n: number): number;
  smp_accept(s: Ptr, id: number): number;
  smp_reset(s: Ptr): number;
  smp_sample(s: Ptr): number;
  smp_uniform(s: Ptr): number;
  stop_create(blob: Ptr, off: Ptr, n: number, status: Ptr): Ptr;
  stop_feed(s: Ptr, b: Ptr, n: number, final: number): number;
  stop_bytes(s: Ptr): Ptr;
  stop_found(s: Ptr): number;
  stop_destroy(s: Ptr): void;
}

export interface SamplingOptions {
  /** 0 (or below): greedy. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0: off. Default 0. */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least p; 1: off. Default 1. */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one; 0: off. Default 0. */
  minP?: number;
  /** Divide positive (multiply negative) logits of recent tokens by this; 1: off. Default 1. */
  repeatPenalty?: number;
  /** Subtracted from the logit of each token seen among the recent ones. Default 0. */
  presencePenalty?: number;
  /** Subtracted once per occurrence among the recent ones. Default 0. */
  frequencyPenalty?: number;
  /** How many recent accepted tokens the penalties look at. Default 64. */
  penaltyLastN?: number;
  /** top-p and min-p keep at least this many tokens. Default 1. */
  minKeep?: number;
  /** Added to the logits of these tokens before anything else (-Infinity bans a token). */
  logitBias?: Record<number, number> | Map<number, number>;
  /** Seed of the random generator (an integer below 2^53). Default 0. */
  seed?: number;
}

const KEY = {
  temperature: 0, topK: 1, topP: 2, minP: 3, repeatPenalty: 4, presencePenalty: 5, frequencyPenalty: 6,
  penaltyLastN: 7, minKeep: 8,
} as const;
const DEFAULTS: Required<Omit<SamplingOptions, 'logitBias' | 'seed'>> = {
  temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, presencePenalty: 0, frequencyPenalty: 0,
  penaltyLastN: 64, minKeep: 1,
};

export class Sampler {
  private readonly mem: WasmMemory;
  private constructor(private readonly x: Exports, private handle: Ptr, readonly nVocab: number) {
    this.mem = new WasmMemory(x.memory);
  }

  static async create(nVocab: number, opts: SamplingOptions = {}, wasm?: WasmSource): Promise<Sampler> {
    if (!Number.isInteger(nVocab) || nVocab <= 0) throw new TokenizerError('bad-argument', `vocabulary size must be a positive integer, got ${nVocab}`);
    const x = (await instantiate('sampler', wasm)).exports as unknown as Exports;
    const status = x.wm_malloc(4);
    const h = x.smp_create(nVocab, status);
    const st = new Int32Array(x.memory.buffer)[status >> 2];
    x.wm_free(status);
    if (!h) throw statusError(st || -1, `cannot create a sampler over ${nVocab} tokens`);
    const s = new Sampler(x, h, nVocab);
    s.configure({ ...DEFAULTS, ...opts });
    return s;
  }

  private live(): Ptr {
    if (!this.handle) throw new TokenizerError('bad-state', 'this sampler was disposed');
    return this.handle;
  }

  /** Changes some options; the others keep their values. */
  configure(opts: SamplingOptions): void {
    const h = this.live();
    for (const [k, key] of Object.entries(KEY)) {
      const v = opts[k as keyof typeof KEY];
      if (v === undefined) continue;
      const st = this.x.smp_set(h, key, v);
      if (st < 0) throw new TokenizerError('bad-argument', `bad sampling option ${k}: ${v}`);
    }
    if (opts.seed !== undefined) {
      if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) throw new TokenizerError('bad-argument', `seed must be a non-negative integer below 2^53, got ${opts.seed}`);
      this.x.smp_seed(h, opts.seed % 2 ** 32, Math.floor(opts.seed / 2 ** 32));
    }
    if (opts.logitBias) this.setBias(opts.logitBias);
  }

  private setBias(bias: Record<number, number> | Map<number, number>): void {
    const entries = bias instanceof Map ? [...bias] : Object.entries(bias).map(([k, v]) => [Number(k), v] as const);
    const n = entries.length;
    const ids = this.x.wm_malloc(n * 4 + 4), vals = this.x.wm_malloc(n * 4 + 4);
    try {
      entries.forEach(([id, v], i) => {
        this.mem.i32[(ids >> 2) + i] = id;
        this.mem.f32[(vals >> 2) + i] = v;
      });
      const st = this.x.smp_set_bias(this.live(), ids, vals, n);
      if (st < 0) throw new TokenizerError('bad-argument', `bad logit bias: ids must be in [0, ${this.nVocab}) and values numbers`);
    } finally {
      this.x.wm_free(ids);
      this.x.wm_free(vals);
    }
  }

  /** Samples a token from logits (length nVocab). The logits are copied; the input is not changed. */
  sample(logits: ArrayLike<number>): number {
    const h = this.live();
    if (logits.length !== this.nVocab) throw new TokenizerError('bad-argument', `expected ${this.nVocab} logits, got ${logits.length}`);
    this.mem.f32.set(logits, this.x.smp_logits(h) >> 2);
    const id = this.x.smp_sample(h);
    if (id < 0) throw new TokenizerError('bad-argument', 'no token can be sampled (every logit is -Infinity or NaN)');
    return id;
  }

  /** Records a token (prompt or generated) for the repetition penalties. */
  accept(id: number): void {
    if (this.x.smp_accept(this.live(), id) < 0) throw new TokenizerError('bad-token', `token ${id} outside [0, ${this.nVocab})`);
  }

  /** Forgets the accepted tokens. */
  reset(): void {
    this.x.smp_reset(this.live());
  }

  /** A uniform draw in [0, 1) from the generator (advances it as a sample would). */
  uniform(): number {
    return this.x.smp_uniform(this.live());
  }

  /** Stop strings matched against the UTF-8 text of this generation. */
  stopMatcher(stops: string[]): StopMatcher {
    return StopMatcher.create(this.x, stops);
  }

  dispose(): void {
    if (this.handle) this.x.smp_destroy(this.handle);
    this.handle = 0;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feed text as it streams; get back the text that can be shown (it never contains a stop string). */
export class StopMatcher {
  private constructor(private readonly x: Exports, private handle: Ptr, readonly stops: string[]) {}

  static create(x: Exports, stops: string[]): StopMatcher {
    if (stops.some((s) => s.length === 0)) throw new TokenizerError('bad-argument', 'a stop string cannot be empty');
    const bytes = stops.map((s) => enc.encode(s));
    const total = bytes.reduce((a, b) => a + b.length, 0);
    const blob = x.wm_malloc(total + 1), off = x.wm_malloc((stops.length + 1) * 4), status = x.wm_malloc(4);
    try {
      const mem = new WasmMemory(x.memory);
      let pos = 0;
      bytes.forEach((b, i) => { mem.i32[(off >> 2) + i] = pos; mem.u8.set(b, blob + pos); pos += b.length; });
      mem.i32[(off >> 2) + stops.length] = pos;
      const h = x.stop_create(blob, off, stops.length, status);
      if (!h) throw statusError(mem.i32[status >> 2] || -1, 'cannot create the stop-string matcher');
      return new StopMatcher(x, h, stops);
    } finally {
      x.wm_free(blob); x.wm_free(off); x.wm_free(status);
    }
  }

  private run(text: string, final: boolean): string {
    if (!this.handle) throw new TokenizerError('bad-state', 'this matcher was disposed');
    const b = enc.encode(text);
    const p = this.x.wm_malloc(b.length + 1);
    try {
      new Uint8Array(this.x.memory.buffer).set(b, p);
      const n = this.x.stop_feed(this.handle, p, b.length, final ? 1 : 0);
      if (n < 0) throw statusError(n, 'stop-string matcher');
      const o = this.x.stop_bytes(this.handle);
      return dec.decode(new Uint8Array(this.x.memory.buffer, o, n));
    } finally {
      this.x.wm_free(p);
    }
  }

  /** Adds streamed text (whole characters); returns what can be released now. */
  push(text: string): string { return this.run(text, false); }
  /** End of generation: releases what was held back. */
  flush(): string { return this.run('', true); }
  /** The stop string that ended the text, if one did. */
  get stopped(): string | undefined {
    const i = this.handle ? this.x.stop_found(this.handle) : -1;
    return i >= 0 ? this.stops[i] : undefined;
  }
  dispose(): void {
    if (this.handle) this.x.stop_destroy(this.handle);
    this.handle = 0;
  }
}
