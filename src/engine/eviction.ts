// Which resident expert makes room for a new one. Both tiers of expert paging (GPU slots, the RAM
// cache) ask a policy for a victim among the experts they may evict. Policies see uses as
// (key, time): time is a clock the tier advances once per lookup batch (one layer of one step),
// so "recent" means "in the last few layers' routing".
//
// `npm run bench -- paging` replays natural routing traces through each policy at several
// capacities and reports hit rates; the tiers use DEFAULT_POLICY, the one that won there.

export interface EvictionPolicy {
  /** A use of `key` (a hit, or the insert after a miss) at time `now`. */
  touch(key: string, now: number): void;
  /** `key` left the tier. */
  remove(key: string): void;
  /** The key to evict among `candidates` (non-empty). */
  victim(candidates: readonly string[], now: number): string;
}

export type PolicyName = 'lru' | 'lfu-decay' | 'lru-2' | 'layer-quota';

/** Least recently used. */
export function lru(): EvictionPolicy {
  const last = new Map<string, number>();
  return {
    touch: (k, now) => { last.set(k, now); },
    remove: (k) => { last.delete(k); },
    victim: (cands) => argmin(cands, (k) => last.get(k) ?? -Infinity),
  };
}

/** Least frequently used, each use's weight halving every `halfLife` time units, so experts a
 *  topic used a while ago fade out while those routing keeps coming back to stay. */
export function lfuDecay(halfLife = 64): EvictionPolicy {
  const score = new Map<string, { s: number; t: number }>();
  const decay = (x: { s: number; t: number }, now: number) => x.s * 2 ** (-(now - x.t) / halfLife);
  return {
    touch: (k, now) => {
      const x = score.get(k);
      score.set(k, { s: (x ? decay(x, now) : 0) + 1, t: now });
    },
    remove: (k) => { score.delete(k); },
    victim: (cands, now) => argmin(cands, (k) => { const x = score.get(k); return x ? decay(x, now) : -Infinity; }),
  };
}

/** LRU-2: evicts the key whose second most recent use is oldest (a key used once goes first,
 *  the least recently used of those), so one-off picks do not push out experts used repeatedly. */
export function lru2(): EvictionPolicy {
  const uses = new Map<string, [number, number]>(); // [last, the one before (-Infinity if none)]
  return {
    touch: (k, now) => {
      const u = uses.get(k);
      // several touches at one time (a batch) count as one use
      uses.set(k, u ? (u[0] === now ? u : [now, u[0]]) : [now, -Infinity]);
    },
    remove: (k) => { uses.delete(k); },
    victim: (cands) => {
      const once = cands.filter((k) => (uses.get(k)?.[1] ?? -Infinity) === -Infinity);
      return once.length ? argmin(once, (k) => uses.get(k)?.[0] ?? -Infinity) : argmin(cands, (k) => uses.get(k)![1]);
    },
  };
}

/** LRU within a per-layer share: a layer holding more than its share of the tier gives up its own
 *  least recently used expert first (keys are "layer/expert"); otherwise plain LRU. */
export function layerQuota(nLayer: number): EvictionPolicy {
  const last = new Map<string, number>();
  const layerOf = (k: string) => k.slice(0, k.indexOf('/'));
  return {
    touch: (k, now) => { last.set(k, now); },
    remove: (k) => { last.delete(k); },
    victim: (cands) => {
      const count = new Map<string, number>();
      for (const k of cands) count.set(layerOf(k), (count.get(layerOf(k)) ?? 0) + 1);
      const share = cands.length / nLayer;
      const over = cands.filter((k) => count.get(layerOf(k))! > share);
      return argmin(over.length ? over : cands, (k) => last.get(k) ?? -Infinity);
    },
  };
}

export function makePolicy(name: PolicyName, nLayer: number): EvictionPolicy {
  switch (name) {
    case 'lru': return lru();
    case 'lfu-decay': return lfuDecay();
    case 'lru-2': return lru2();
    case 'layer-quota': return layerQuota(nLayer);
  }
}

export const POLICIES: readonly PolicyName[] = ['lru', 'lfu-decay', 'lru-2', 'layer-quota'];

function argmin(keys: readonly string[], f: (k: string) => number): string {
  let best = keys[0], bv = f(best);
  for (let i = 1; i < keys.length; i++) {
    const v = f(keys[i]);
    if (v < bv) { bv = v; best = keys[i]; }
  }
  return best;
}

/** Which key holds each of a fixed number of slots, a full set giving one up by the policy: the
 *  bookkeeping of the GPU expert pool (expert-pool.ts) and the WASM backend's heap slots. */
export class SlotOwners {
  private readonly slotOf = new Map<string, number>();
  private readonly owner: (string | undefined)[];

  constructor(slots: number, private readonly policy: EvictionPolicy) {
    this.owner = new Array<string | undefined>(slots).fill(undefined);
  }

  has(key: string): boolean {
    return this.slotOf.has(key);
  }

  get(key: string): number | undefined {
    return this.slotOf.get(key);
  }

  /** Tells the policy that `key`, which holds a slot, is used at `now`. */
  touch(key: string, now: number): void {
    this.policy.touch(key, now);
  }

  /** Gives `key` a free slot, or the slot of the holder the policy gives up among those not
   *  `pinned` (returned as `evicted`). */
  claim(key: string, pinned: ReadonlySet<string>, now: number): { slot: number; evicted?: string } {
    let slot = this.owner.indexOf(undefined), evicted: string | undefined;
    if (slot < 0) {
      evicted = this.policy.victim(this.owner.filter((k): k is string => k !== undefined && !pinned.has(k)), now);
      slot = this.slotOf.get(evicted)!;
      this.slotOf.delete(evicted);
      this.policy.remove(evicted);
    }
    this.owner[slot] = key;
    this.slotOf.set(key, slot);
    this.policy.touch(key, now);
    return { slot, evicted };
  }
}
