// One generation as the page sees it: an async iterable of token chunks as they are sampled, and
// the final result (ids, text, why it stopped, speeds). Leaving a `for await` loop early stops the
// generation in the worker.
import type { GenerationResult } from './protocol.ts';

export interface TokenChunk {
  /** Text released by these tokens; '' while a character or a possible stop string is incomplete. */
  text: string;
  /** The tokens sampled (empty for the final held-back text). */
  ids: number[];
}

export class Generation implements AsyncIterable<TokenChunk> {
  /** Resolves when the generation ends (stopped, aborted or complete); rejects on a failure. */
  readonly result: Promise<GenerationResult>;
  private readonly chunks: TokenChunk[] = [];
  private finished = false;
  private wake?: () => void;
  private iterated = false;

  /** `run` starts the generation and feeds chunks to its callback; `cancel` asks it to stop. */
  constructor(run: (push: (c: TokenChunk) => void) => Promise<GenerationResult>, private readonly cancel: () => void) {
    this.result = run((c) => {
      this.chunks.push(c);
      this.wake?.();
    }).finally(() => {
      this.finished = true;
      this.wake?.();
    });
    this.result.catch(() => {}); // a caller that only iterates sees the error there
  }

  /** Stops the generation within one token; the result says 'aborted'. */
  abort(): void {
    if (!this.finished) this.cancel();
  }

  /** The whole text, once the generation has ended. */
  async text(): Promise<string> {
    return (await this.result).text;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TokenChunk> {
    if (this.iterated) throw new TypeError('a Generation can be iterated once; use its result for the whole text');
    this.iterated = true;
    try {
      for (;;) {
        const c = this.chunks.shift();
        if (c) {
          yield c;
          continue;
        }
        if (this.finished) {
          await this.result; // throws the generation's error, if any
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.abort(); // the loop was left early (break, return or throw): stop the worker
    }
  }
}
