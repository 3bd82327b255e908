import { describe, expect, it } from 'vitest';
import { ramBudget } from './memory.ts';

const GiB = 2 ** 30;

describe('RAM budget of the expert tier', () => {
  it('defaults to a quarter of the machine, at most 4 GiB; 1 GiB when the machine does not say', () => {
    expect(ramBudget(undefined, 8 * GiB)).toEqual({ bytes: 2 * GiB });
    expect(ramBudget(undefined, 64 * GiB)).toEqual({ bytes: 4 * GiB });
    expect(ramBudget(undefined, undefined)).toEqual({ bytes: GiB });
  });

  it('takes a request up to half the machine, and clamps above it with a warning that says so', () => {
    expect(ramBudget(3 * GiB, 8 * GiB)).toEqual({ bytes: 3 * GiB });
    expect(ramBudget(0, 8 * GiB)).toEqual({ bytes: 0 });
    const clamped = ramBudget(12 * GiB, 8 * GiB);
    expect(clamped.bytes).toBe(4 * GiB);
    expect(clamped.warning).toBe('a RAM budget of 12.0 GiB is more than this machine can spare (8.0 GiB of memory): using 4.0 GiB, half of it');
    expect(ramBudget(12 * GiB, undefined)).toEqual({ bytes: 12 * GiB }); // nothing known to clamp to
  });

  it('refuses what is not a number of bytes', () => {
    expect(() => ramBudget(-1, 8 * GiB)).toThrow(/a RAM budget must be a number of bytes >= 0, not -1/);
    expect(() => ramBudget(NaN, 8 * GiB)).toThrow(RangeError);
  });
});
