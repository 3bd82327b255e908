// What the e2e specs hold a page's output to: the CPU reference (src/reference, 'ggml' numerics)
// on the same file the page loads (the demo's default model unless given), computed here in
// Node: prompts tokenized as the engine worker does, and greedy ids cut before an
// end-of-generation token, where a page stops.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readGGUF } from '../src/gguf/reader.ts';
import { bytesSource } from '../src/gguf/source.ts';
import { greedy } from '../src/reference/generate.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';

/** The demo's default model, as the pages serve it from public/. */
export const DEFAULT_MODEL = fileURLToPath(new URL('../public/models/webmoe-tiny-moe.q8_0.gguf', import.meta.url));
export const defaultModelBytes = (): Uint8Array => new Uint8Array(readFileSync(DEFAULT_MODEL));

export class E2EReference {
  private constructor(readonly tok: Tokenizer, private readonly model: ReferenceModel) {}

  static async load(bytes: Uint8Array = defaultModelBytes(), nCtx = 256): Promise<E2EReference> {
    const tok = await Tokenizer.fromGGUF(await readGGUF(bytesSource(bytes)));
    return new E2EReference(tok, await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx }));
  }

  /** A text prompt's ids as the engine worker makes them: specials parsed, BOS as the model asks. */
  encode(text: string): number[] {
    return [...this.tok.encode(text, { addSpecial: true, parseSpecial: true })];
  }

  /** The reference's greedy ids after `prompt` (a text, tokenized by encode, or ids), cut before
   *  an end-of-generation token. */
  greedy(prompt: string | readonly number[], n: number): number[] {
    const ids = greedy(this.model, typeof prompt === 'string' ? this.encode(prompt) : prompt, n);
    const eog = ids.findIndex((id) => this.tok.isEog(id));
    return eog < 0 ? ids : ids.slice(0, eog);
  }

  decode(ids: readonly number[]): string {
    return this.tok.decode(ids);
  }

  dispose(): void {
    this.tok.dispose();
  }
}
