// The text side of a generation loop: token ids in, text out, in whole characters, never showing
// a stop string (or the start of one that may still complete), and saying why generation ends.
import type { Sampler, StopMatcher } from './sampler.ts';
import type { StreamDecoder, Tokenizer } from '../tokenizer/tokenizer.ts';

export type StopReason = 'eog' | 'stop-string';

export interface TextStreamOptions {
  /** Strings that end the generation; the text stops before them. */
  stop?: string[];
  /** Keep going past end-of-generation tokens (EOS, EOT, <|im_end|>, ...). */
  ignoreEog?: boolean;
  /** Render control tokens as their text. */
  special?: boolean;
}

export class TextStream {
  /** Why the generation ended, once it has. */
  stopped?: StopReason;
  /** The stop string that ended it, if one did. */
  stopString?: string;
  private readonly decoder: StreamDecoder;
  private readonly matcher?: StopMatcher;

  constructor(private readonly tok: Tokenizer, sampler: Sampler | undefined, private readonly opts: TextStreamOptions = {}) {
    this.decoder = tok.createDecoder({ special: opts.special });
    const stops = opts.stop?.filter((s) => s.length > 0) ?? [];
    if (stops.length) {
      if (!sampler) throw new Error('TextStream: stop strings need the sampler module (pass a Sampler)');
      this.matcher = sampler.stopMatcher(stops);
    }
  }

  /** Adds a generated token; returns the text it releases ('' while a character or a possible
   *  stop string is incomplete). After a stop, further tokens release nothing. */
  push(id: number): string {
    if (this.stopped) return '';
    if (!this.opts.ignoreEog && this.tok.isEog(id)) {
      this.stopped = 'eog';
      return this.finishText();
    }
    const text = this.decoder.push(id);
    if (!this.matcher) return text;
    const out = this.matcher.push(text);
    if (this.matcher.stopped) {
      this.stopped = 'stop-string';
      this.stopString = this.matcher.stopped;
    }
    return out;
  }

  /** End of generation (for any reason): the text still held back. */
  finish(): string {
    return this.stopped === 'stop-string' ? '' : this.finishText();
  }

  private finishText(): string {
    const tail = this.decoder.flush();
    if (!this.matcher) return tail;
    return this.matcher.push(tail) + (this.matcher.stopped ? '' : this.matcher.flush());
  }

  dispose(): void {
    this.decoder.dispose();
    this.matcher?.dispose();
  }
}
