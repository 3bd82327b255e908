import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../tools/factory/make-model.ts';
import { sha256, Sha256, toHex } from './sha256.ts';

const nodeHex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function randomBytes(n: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r.uniform() * 256));
}

describe('SHA-256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(toHex(new Sha256().digest())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(new Sha256().update(new TextEncoder().encode('abc')).digest())).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches node:crypto for every length 0..300 and for split updates', async () => {
    for (let n = 0; n <= 300; n++) {
      const b = randomBytes(n, n + 1);
      expect(toHex(new Sha256().update(b).digest()), `length ${n}`).toBe(nodeHex(b));
    }
    const big = randomBytes(100_003, 7);
    const r = seededRandom(9);
    const h = new Sha256();
    for (let at = 0; at < big.length; ) {
      const step = Math.floor(r.uniform() * 5000);
      h.update(big.subarray(at, at + step));
      at += step;
    }
    expect(toHex(h.digest())).toBe(nodeHex(big));
    expect(toHex(await sha256(big))).toBe(nodeHex(big));
  });
});
