// Routed experts loaded on demand: instead of reading every blk.N.ffn_{gate,up,down}_exps tensor at
// load, the reference asks an ExpertProvider for one expert's bytes the first time the router picks
// it, dequantizes them and keeps them (the reference has no memory budget: an expert, once loaded,
// stays). A download's checked ranges are such a provider (expertProvider in src/model/experts.ts), so a model can run
// while its file is still downloading.
import { EXPERT_PARTS, expertTensors, type ExpertProvider } from '../model/experts.ts';
import { ModelFormatError } from '../model/hparams.ts';
import type { ModelPlan } from '../model/plan.ts';
import type { GatedFfn } from './ffn.ts';
import { makeWeight } from './matmul.ts';

/** forward() met an expert that is not loaded yet: use forwardAsync(), which fetches it. */
export class ExpertsNotLoadedError extends Error {
  override name = 'ExpertsNotLoadedError';
  readonly code = 'experts-not-loaded';
  constructor(readonly layer: number, readonly experts: number[]) {
    super(`layer ${layer} routes to expert(s) ${experts.join(', ')}, not loaded yet; this model loads experts on demand: call forwardAsync()`);
  }
}

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
    const stack = expertTensors(this.plan, layer);
    const w = {} as GatedFfn;
    for (const part of EXPERT_PARTS) {
      const t = stack[part];
      const [cols, rows, n] = t.shape; // (nExpert, rows, cols), expert index outermost
      const want = t.nBytes / n;
      const got = bytes[part];
      if (got.length !== want) {
        throw new ModelFormatError(`expert ${expert} of layer ${layer}: ${part} has ${got.length} bytes, ${t.name} holds ${want} per expert`);
      }
      w[part] = makeWeight(`${t.name}[${expert}]`, t.type, [cols, rows], got, true);
      this.stats.bytes += got.length;
    }
    this.loaded.set(`${layer}/${expert}`, w);
    this.stats.experts++;
  }
}
