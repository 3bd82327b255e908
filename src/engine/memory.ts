// The RAM tier's budget: what a caller asked for, or a default from the machine's memory, never
// more than the machine can spare. A browser tells its memory only roughly
// (navigator.deviceMemory: GiB, rounded down to a power of two, at most 8); Node tells it exactly
// (os.totalmem()). The caller passes what it knows; this decides.

const GIB = 2 ** 30;

/** Default share of the machine's memory for repacked experts, and the cap of the default. */
export const RAM_DEFAULT_SHARE = 1 / 4;
export const RAM_DEFAULT_CAP = 4 * GIB;
/** Share of the machine's memory a requested budget is clamped to. */
export const RAM_MAX_SHARE = 1 / 2;

export interface RamBudget {
  bytes: number;
  /** Set when a requested budget was clamped: what was asked, what is used, and why. */
  warning?: string;
}

/** The RAM budget for `requested` bytes (undefined: the default) on a machine of `total` bytes
 *  (undefined: unknown, then a request is trusted and the default is 1 GiB). */
export function ramBudget(requested: number | undefined, total: number | undefined): RamBudget {
  if (requested !== undefined && !(Number.isFinite(requested) && requested >= 0)) {
    throw new RangeError(`a RAM budget must be a number of bytes >= 0, not ${requested}`);
  }
  if (total === undefined || !(total > 0)) return { bytes: requested ?? GIB };
  if (requested === undefined) return { bytes: Math.min(RAM_DEFAULT_CAP, Math.floor(total * RAM_DEFAULT_SHARE)) };
  const max = Math.floor(total * RAM_MAX_SHARE);
  if (requested <= max) return { bytes: requested };
  return {
    bytes: max,
    warning: `a RAM budget of ${gib(requested)} is more than this machine can spare (${gib(total)} of memory): ` +
      `using ${gib(max)}, half of it`,
  };
}

/** The memory of this machine or tab, in bytes, where the platform tells it. */
export function deviceMemoryBytes(): number | undefined {
  const nav = (globalThis as { navigator?: { deviceMemory?: number } }).navigator;
  return typeof nav?.deviceMemory === 'number' ? nav.deviceMemory * GIB : undefined;
}

const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`;
