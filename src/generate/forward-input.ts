// What every backend's forward() checks before it runs a token (WebGPU engine, WASM backend).

export class ContextFullError extends Error {
  override name = 'ContextFullError';
}

/** Throws RangeError for no tokens or an id outside the vocabulary, ContextFullError when the
 *  tokens do not fit after the nPast positions already in the KV cache. */
export function checkForwardInput(tokens: readonly number[], nVocab: number, nPast: number, nCtx: number): void {
  if (tokens.length === 0) throw new RangeError('forward() needs at least one token');
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= nVocab) throw new RangeError(`token id ${t} is outside the vocabulary (0..${nVocab - 1})`);
  }
  if (nPast + tokens.length > nCtx) {
    throw new ContextFullError(`context full: ${nPast} + ${tokens.length} tokens exceed the ${nCtx} positions of the KV cache`);
  }
}
