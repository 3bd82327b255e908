// Messages between e2e/pages/engine-page.ts and its worker, one union tagged by `type`.
export interface RunRequest {
  type: 'run';
  url: string;
  prompt: number[];
  nTokens: number;
  numerics: 'ggml' | 'exact';
  /** Kernel shapes (default auto: software on SwiftShader). */
  kernels?: 'auto' | 'software' | 'hardware';
}

export interface RunResult {
  type: 'result';
  adapter: string;
  /** Greedy ids after the prompt. */
  ids: number[];
  /** Logits after the prompt (nVocab). */
  logits: number[];
  decodeTokS: number;
  launchesPerToken: number;
  kernels: string;
  /** The adapter runs the subgroup kernels. */
  subgroups: boolean;
}

export interface RunError {
  type: 'error';
  name: string;
  message: string;
  code?: string;
}

export type WorkerReply = RunResult | RunError;
