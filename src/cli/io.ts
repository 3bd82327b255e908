// What every CLI command shares: where output goes (so tests run commands in-process and read
// what they print), the errors a command throws on purpose, and strict flag parsing.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Output streams of one CLI run. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** The command line is wrong (unknown flag, missing value, bad number). Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The user asked for something WebMoE will do but does not do yet. Exit code 1. */
export class NotAvailableError extends Error {
  override name = 'NotAvailableError';
}

/** Prints a value as indented JSON, arrays of numbers on one line (token ids, shapes); bigints as
 *  numbers when exact, else as strings. */
export function printJson(io: CliIO, value: unknown): void {
  io.out(formatJson(value, '') + '\n');
}

function formatJson(v: unknown, pad: string): string {
  if (typeof v === 'bigint') return JSON.stringify(bigintJson(v));
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => typeof x === 'number' || typeof x === 'bigint')) return `[${v.map((x) => formatJson(x, pad)).join(', ')}]`;
    return `[\n${v.map((x) => `${pad}  ${formatJson(x === undefined ? null : x, pad + '  ')}`).join(',\n')}\n${pad}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${pad}  ${JSON.stringify(k)}: ${formatJson(x, pad + '  ')}`).join(',\n')}\n${pad}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function bigintJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, with its TypeErrors turned into UsageErrors that name the command. */
export function parseFlags<O extends Options>(command: string, argv: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${(e as Error).message.replace(/\s*\n\s*/g, ' ')} (see: webmoe ${command} --help)`);
    }
    throw e;
  }
}

/** An integer flag value in [min, max]; `flag` names it in the message. */
export function intFlag(flag: string, raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const s = raw.trim();
  const v = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return v;
}

/** A finite number flag value. */
export function numFlag(flag: string, raw: string): number {
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`--${flag} must be a number, got "${raw}"`);
  return v;
}
