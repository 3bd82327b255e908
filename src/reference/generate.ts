// Greedy decoding with the reference model (temperature 0: the argmax, first index on ties).
import type { ReferenceModel } from './model.ts';
import type { Vec } from './numerics.ts';
import { argmax } from './ops.ts';

/** Resets the model, runs the prompt, then picks the argmax token nTokens times. */
export function greedy(model: ReferenceModel, prompt: readonly number[], nTokens: number): number[] {
  if (prompt.length === 0) throw new RangeError('greedy() needs at least one prompt token');
  model.reset();
  const ids: number[] = [];
  let [logits] = model.forward(prompt);
  for (let i = 0; i < nTokens; i++) {
    const id = argmax(logits);
    ids.push(id);
    if (i + 1 < nTokens) [logits] = model.forward([id]);
  }
  return ids;
}

/** Teacher forcing: resets the model, runs the prompt and then `forced` token by token, and
 *  returns the logits that predicted each forced token (forced.length vectors of nVocab). */
export function forcedLogits(model: ReferenceModel, prompt: readonly number[], forced: readonly number[]): Vec[] {
  if (prompt.length === 0) throw new RangeError('forcedLogits() needs at least one prompt token');
  model.reset();
  const out: Vec[] = [];
  let [logits] = model.forward(prompt);
  for (let i = 0; i < forced.length; i++) {
    out.push(logits);
    if (i + 1 < forced.length) [logits] = model.forward([forced[i]]);
  }
  return out;
}

/** greedy() through forwardAsync(): routed experts load on demand (a model loaded with option
 *  `experts`). `onToken` sees each token as it is picked (index 0 = the first generated). */
export async function greedyAsync(model: ReferenceModel, prompt: readonly number[], nTokens: number, onToken?: (id: number, i: number) => void): Promise<number[]> {
  if (prompt.length === 0) throw new RangeError('greedyAsync() needs at least one prompt token');
  model.reset();
  const ids: number[] = [];
  let [logits] = await model.forwardAsync(prompt);
  for (let i = 0; i < nTokens; i++) {
    const id = argmax(logits);
    ids.push(id);
    onToken?.(id, i);
    if (i + 1 < nTokens) [logits] = await model.forwardAsync([id]);
  }
  return ids;
}
