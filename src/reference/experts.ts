// Routed experts loaded on demand: instead of reading every blk.N.ffn_{gate,up,down}_exps tensor at
// load, the reference asks an ExpertProvider for one expert's bytes the first time the router picks
// it, dequantizes them and keeps them (the reference has no memory budget: an expert, once loaded,
// stays). ModelDownload.ensureExpert (src/fetch/download.ts) is such a provider, so a model can run
// while its file is still downloading.
import type { GGUFTensorInfo } from '../gguf/types.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { ModelPlan } from '../model/plan.ts';
import type { GatedFfn } from './ffn.ts';
import { makeWeight } from './matmul.ts';

/** One expert's three projections, each in GGUF block layout: the expert's contiguous slice of
 *  blk.N.ffn_{gate,up,down}_exps.weight (expert index outermost). */
export interface ExpertBytes {
  gate: Uint8Array;
  up: Uint8Array;
  down: Uint8Array;
}

/** Gives the bytes of expert `expert` of layer `layer`, e.g. `(l, e) => download.ensureExpert(l, e)`.
 *  The bytes must be the file's own (verified by the provider); they are read once per expert. */
export type ExpertProvider = (layer: number, expert: number) => Promise<ExpertBytes>;

/** forward() met an expert that is not loaded yet: use forwardAsync(), which fetches it. */
export class ExpertsNotLoadedError extends Error {
  override name = 'ExpertsNotLoadedError';
  readonly code = 'experts-not-loaded';
  constructor(readonly layer: number, readonly experts: number[]) {
    super(`layer ${layer} routes to expert(s) ${experts.join(', ')}, not loaded yet; this model loads experts on demand: call forwardAsync()`);
  }
}

const PARTS = ['gate', 'up', 'down'] as const;

export class ExpertCache {
  /** Experts loaded and bytes requested from the provider (GGUF bytes, before dequantizing). */
  readonly stats = { experts: 0, bytes: 0 };
  private readonly loaded = new Map<string, GatedFfn>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly plan: ModelPlan, private readonly provider: ExpertProvider) {}

  has(layer: number, expert: number): boolean {
    return this.loaded.has(`${layer}/${expert}`);
  }

  /** Expert `expert` of `layer` as a GatedFfn of plain (count 1) matrices; throws when not loaded. */
  get(layer: number, expert: number): GatedFfn {
    const f = this.loaded.get(`${layer}/${expert}`);
    if (!f) throw new ExpertsNotLoadedError(layer, [expert]);
    return f;
  }

  /** Those of `experts` not loaded yet. */
  missing(layer: number, experts: readonly number[]): number[] {
    return experts.filter((e) => !this.has(layer, e));
  }

  /** Fetches (in parallel), checks and dequantizes the experts of `layer` not loaded yet. */
  async load(layer: number, experts: readonly number[]): Promise<void> {
    await Promise.all(experts.map((e) => {
      const key = `${layer}/${e}`;
      if (this.loaded.has(key)) return undefined;
      let p = this.pending.get(key);
      if (!p) {
        p = this.fetch(layer, e).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      return p;
    }));
  }

  private async fetch(layer: number, expert: number): Promise<void> {
    const bytes = await this.provider(layer, expert);
    const w = {} as GatedFfn;
    for (const part of PARTS) {
      const t = this.tensor(layer, part);
      const [cols, rows, n] = t.shape; // (nExpert, rows, cols), expert index outermost
      const want = t.nBytes / n;
      const got = bytes[part];
      if (got.length !== want) {
        throw new ModelFormatError(`expert ${expert} of layer ${layer}: ${part} has ${got.length} bytes, ${t.name} holds ${want} per expert`);
      }
      w[part] = makeWeight(`${t.name}[${expert}]`, t.type, [cols, rows], got);
      this.stats.bytes += got.length;
    }
    this.loaded.set(`${layer}/${expert}`, w);
    this.stats.experts++;
  }

  private tensor(layer: number, part: (typeof PARTS)[number]): GGUFTensorInfo {
    const name = `blk.${layer}.ffn_${part}_exps.weight`;
    const t = this.plan.tensors.get(name);
    if (!t || t.shape.length !== 3) throw new ModelFormatError(`the model has no stacked expert tensor ${name}`);
    return t;
  }
}

/** Whether a plan tensor (canonical name) is a routed expert tensor, left to the provider. */
export function isRoutedExpert(name: string): boolean {
  return /^blk\.\d+\.ffn_(gate|up|down)_exps\.weight$/.test(name);
}
