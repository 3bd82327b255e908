// Messages between tools/oracle/tokenize.ts (the test process) and tokenize-worker.ts (a child
// process that loads a vocabulary into llama.cpp with vocabOnly). Tasks go in as one JSON document
// on stdin; each result comes back as one JSON line, so a task that aborts the child is known.

export type TokenizeTask =
  /** llama_tokenize(text, add_special = false, parse_special = special), as model.tokenize. */
  | { type: 'tokenize'; text: string; special: boolean }
  /** llama_detokenize(ids, remove_special = false, unparse_special = special). */
  | { type: 'detokenize'; ids: number[]; special: boolean }
  /** What llama.cpp made of the vocabulary at load time. */
  | { type: 'info' };

export interface VocabInfo {
  nVocab: number;
  bos: number | null;
  eos: number | null;
  /** llama_vocab_get_add_bos / add_eos. */
  addBos: boolean;
  addEos: boolean;
  /** Every end-of-generation id (llama_vocab_is_eog). */
  eog: number[];
  /** llama_token_attr of every token. */
  attrs: number[];
}

export type TokenizeResult = { type: 'tokenize'; ids: number[] } | { type: 'detokenize'; text: string } | { type: 'info'; info: VocabInfo };

export interface TokenizeRequest {
  model: string;
  tasks: TokenizeTask[];
}

export type TokenizeLine = { i: number; ok: TokenizeResult } | { i: number; error: string };
