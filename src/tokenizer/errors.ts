// Named errors of the tokenizer and sampler. The C code returns status codes (wasm/src/wm.h);
// statusError() turns one into a TokenizerError whose message says what went wrong and what to do.

export type TokenizerErrorCode =
  | 'no-vocab'           // the GGUF has no vocabulary (tokenizer.ggml.model / .tokens missing)
  | 'bad-metadata'       // a tokenizer.ggml.* key has the wrong type or length
  | 'unsupported-model'  // tokenizer.ggml.model other than "llama" (SentencePiece) or "gpt2" (BPE)
  | 'unsupported-pre'    // tokenizer.ggml.pre this implementation does not know
  | 'out-of-memory'      // the WebAssembly memory could not grow
  | 'bad-argument'
  | 'bad-token'          // a token id outside the vocabulary
  | 'bad-state'          // the object was disposed
  | 'byte-token'         // SentencePiece byte fallback needs a <0xXX> token the vocabulary lacks
  | 'too-large'          // input beyond 2 GiB
  | 'no-bos' | 'no-eos'  // the model asks for BOS/EOS but has none
  | 'wasm-unavailable';  // the .wasm could not be loaded

export class TokenizerError extends Error {
  override name = 'TokenizerError';
  constructor(readonly code: TokenizerErrorCode, message: string) {
    super(message);
  }
}

const STATUS: Record<number, [TokenizerErrorCode, string]> = {
  [-1]: ['out-of-memory', 'WebAssembly memory could not grow to hold this input; split the text into smaller parts'],
  [-2]: ['bad-argument', 'bad argument passed to the WebAssembly module'],
  [-3]: ['no-vocab', 'the vocabulary is empty or inconsistent (no tokens, or a BPE vocabulary without tokenizer.ggml.merges)'],
  [-4]: ['unsupported-model', 'unsupported tokenizer.ggml.model; WebMoE tokenizes "llama" (SentencePiece) and "gpt2" (byte-level BPE)'],
  [-5]: ['unsupported-pre', 'unsupported tokenizer.ggml.pre'],
  [-6]: ['bad-token', 'token id outside the vocabulary'],
  [-7]: ['bad-state', 'call made in the wrong state'],
  [-8]: ['byte-token', 'byte fallback needs a <0xXX> token that the vocabulary lacks'],
  [-9]: ['too-large', 'input larger than 2 GiB; split it'],
  [-10]: ['no-bos', 'the model asks for a BOS token (add_bos_token) but has no tokenizer.ggml.bos_token_id; encode with addSpecial: false'],
  [-11]: ['no-eos', 'the model asks for an EOS token (add_eos_token) but has no tokenizer.ggml.eos_token_id; encode with addSpecial: false'],
};

/** The error for a negative status returned by the WebAssembly module. */
export function statusError(status: number, context: string): TokenizerError {
  const [code, text] = STATUS[status] ?? ['bad-state', `unknown status ${status}`];
  return new TokenizerError(code, `${context}: ${text}`);
}
