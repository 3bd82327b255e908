// Messages between tools/oracle/llamacpp.ts (the test process) and llamacpp-worker.ts (the child
// process that loads models into llama.cpp). Jobs go in as one JSON document on stdin; each result
// comes back as one JSON line on stdout as soon as it is done, so a job that aborts the child
// (a GGML_ASSERT ends the whole process) is known and the jobs after it can be run again.

export interface GreedyJob {
  type: 'greedy';
  model: string;
  prompt: number[];
  nTokens: number;
  /** Also return every step's full logits (nVocab floats). */
  logits?: boolean;
  /** Context length in tokens (default 256; llama.cpp pads the KV cache view to 256 cells). */
  contextSize?: number;
  /** Teacher forcing: after step i, feed forced[i] instead of the token picked (steps still
   *  report what llama.cpp would pick). */
  forced?: number[];
  /** Evaluate the prompt one token per batch instead of as one batch (default false). */
  promptOneByOne?: boolean;
  /** KV cache type (default 'f32'; 'f16' is llama.cpp's own default). */
  kvType?: 'f32' | 'f16';
  /** CPU threads (default llama.cpuMathCores). ggml-cpu splits rows among threads, so results do
   *  not depend on it (granitemoe Q6_K, llama IQ4_XS: logits bit-identical on 1 and 2). On a
   *  busy machine 1 is much faster: 2 threads spin at barriers while descheduled (13 tiny models,
   *  16 tokens each, load average ~12: 103 s on 2 threads, 7.6 s on 1). */
  threads?: number;
}

export interface TokenizeJob {
  type: 'tokenize';
  model: string;
  text: string;
}

export type OracleJob = GreedyJob | TokenizeJob;

export interface GreedyStep {
  /** The token llama.cpp picked (temperature 0). */
  token: number;
  /** The most probable next tokens, best first: [id, probability]. */
  top: [number, number][];
  /** Raw logits by token id, when asked for. */
  logits?: number[];
}

export interface GreedyOutput {
  type: 'greedy';
  ids: number[];
  steps: GreedyStep[];
}

export interface TokenizeOutput {
  type: 'tokenize';
  ids: number[];
}

export type OracleOutput = GreedyOutput | TokenizeOutput;

/** One line of the worker's stdout. */
export type WorkerLine =
  | { i: number; ok: OracleOutput }
  | { i: number; error: string };
