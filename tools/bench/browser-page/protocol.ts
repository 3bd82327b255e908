// What tools/bench/browser.ts asks the bench page (main.ts) to run, and what it gets back.

export type Runtime =
  | { kind: 'wllama'; threads: 1 | 2 }
  | { kind: 'webmoe'; backend: string };

export interface RunRequest {
  runtime: Runtime;
  /** The model's URL on the page's origin. */
  url: string;
  nCtx: number;
  /** Text: wllama's completion takes no token ids. */
  prompt: string;
  nDecode: number;
  /** Measured generations after the warm-up; the best is returned. */
  repeats: number;
  /** Token ids wllama must never sample (their bytes are not UTF-8 on their own: its JSON layer
   *  throws on such text). */
  ban: number[];
}

export interface RunResult {
  /** From nothing (the library's script not yet fetched, storage empty) to ready, ms. */
  loadMs: number;
  promptTokens: number;
  prefillTokS: number;
  decodeTokens: number;
  decodeTokS: number;
  /** The measured generation (prompt and decode), as the page saw it. */
  wallMs: number;
  text: string;
  /** [prefill, decode] tok/s of each measured generation, in order (the best is above). */
  each?: [number, number][];
  /** What ran: wllama's threads, WebMoE's backend and its reason. */
  ran: Record<string, unknown>;
}

export type RunReply = ({ ok: true } & RunResult) | { ok: false; error: string };
