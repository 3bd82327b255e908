// Errors across the worker boundary. Structured clone keeps only the standard fields of an Error
// (and renames custom classes to "Error"), so the worker sends each error as plain data with its
// name, message, stack, code and cause, and the page rebuilds a WebMoEError that keeps them.
// Every WebMoE error message already says what to do (the pieces' own errors: WebGPUUnavailableError,
// StorageQuotaError, FetchError subclasses, GPUEngineError, TokenizerError, ...); the worker adds
// the few below.
import type { SerializedError } from './protocol.ts';

/** Nested causes kept at most this deep (a cause chain can be cyclic). */
const MAX_CAUSES = 4;

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) {
    // DOMExceptions are Errors in browsers; anything else thrown is described as it is.
    return { name: 'Error', message: typeof e === 'string' ? e : safeString(e) };
  }
  const out: SerializedError = { name: e.name, message: e.message };
  if (e.stack) out.stack = e.stack;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (e.cause !== undefined && depth < MAX_CAUSES) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

function safeString(x: unknown): string {
  try {
    return String(x);
  } catch {
    return 'a value that cannot be printed';
  }
}

/** An error from the engine worker, rebuilt on the page: `name` and `code` are the original's
 *  (e.g. 'StorageQuotaError' / 'quota', 'WebGPUUnavailableError' / 'no-adapter'), `stack` is the
 *  worker's stack. */
export class WebMoEError extends Error {
  readonly code?: string;

  constructor(s: SerializedError) {
    super(s.message, s.cause ? { cause: new WebMoEError(s.cause) } : undefined);
    this.name = s.name;
    this.code = s.code;
    if (s.stack) this.stack = s.stack;
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

export type HostErrorCode = 'no-model' | 'empty-prompt' | 'bad-token' | 'worker-failed' | 'busy';

/** Misuse of the API or a worker that died; the message says what to do. */
export class HostError extends Error {
  override name = 'WebMoEHostError';
  constructor(readonly code: HostErrorCode, message: string) {
    super(message);
  }
}

/** A load or generation ended by its AbortSignal (or the worker's cancel). */
export function abortError(what: string): DOMException {
  return new DOMException(`${what} was cancelled`, 'AbortError');
}
