import { describe, expect, it } from 'vitest';
import { layerQuota, lfuDecay, lru, lru2 } from './eviction.ts';

describe('eviction policies', () => {
  it('lru: the least recently used', () => {
    const p = lru();
    p.touch('0/1', 1); p.touch('0/2', 2); p.touch('0/3', 3); p.touch('0/1', 4);
    expect(p.victim(['0/1', '0/2', '0/3'], 5)).toBe('0/2');
    p.remove('0/2');
    expect(p.victim(['0/1', '0/3'], 5)).toBe('0/3');
  });

  it('lfu-decay: an expert used often outlives one used once since, until its uses fade', () => {
    const p = lfuDecay(4);
    for (let t = 1; t <= 6; t++) p.touch('0/1', t); // often, long ago
    p.touch('0/2', 7); // once, recently
    expect(p.victim(['0/1', '0/2'], 8)).toBe('0/2');
    // 40 time units later (10 half-lives) the old uses weigh ~6/1024, less than one use at 45
    p.touch('0/2', 45);
    expect(p.victim(['0/1', '0/2'], 48)).toBe('0/1');
  });

  it('lru-2: a key used once goes before keys used twice, whatever their recency', () => {
    const p = lru2();
    p.touch('0/1', 1); p.touch('0/1', 2); // twice, early
    p.touch('0/2', 9); // once, late
    p.touch('0/3', 3); p.touch('0/3', 8); // twice, later
    expect(p.victim(['0/1', '0/2', '0/3'], 10)).toBe('0/2');
    // among keys used twice: the oldest second-to-last use
    expect(p.victim(['0/1', '0/3'], 10)).toBe('0/1');
    p.touch('0/4', 5); p.touch('0/4', 5); // two touches at one time are one use
    expect(p.victim(['0/1', '0/4'], 10)).toBe('0/4');
  });

  it('layer-quota: a layer over its share gives up its own least recent first', () => {
    const p = layerQuota(2);
    p.touch('0/1', 1); p.touch('1/1', 2); p.touch('1/2', 3); p.touch('1/3', 4);
    // 4 resident over 2 layers: share 2 each; layer 1 holds 3, so its oldest goes, not layer 0's
    expect(p.victim(['0/1', '1/1', '1/2', '1/3'], 5)).toBe('1/1');
  });
});
