// `webmoe tokenize`: token ids of a text with a model's vocabulary (the WASM tokenizer, which
// matches llama.cpp's), read from the GGUF header only.
import { readFileSync } from 'node:fs';
import { readGGUF } from '../gguf/reader.ts';
import { openSource } from './store.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { type CliIO, parseFlags, printJson, UsageError } from './io.ts';

export const TOKENIZE_HELP = `Usage: webmoe tokenize --model MODEL (--text TEXT | --text-file FILE) [options]

Prints the token ids of the text as JSON: {"ids": [...]}. Only the GGUF header is read.

Required:
  --model MODEL        a local .gguf path or an http(s) URL that serves byte ranges
  --text TEXT          the text
  --text-file FILE     or the text from a file (its bytes as they are; - reads stdin)

Options:
  --special            recognise special-token text such as <|im_start|> as those tokens
                       (otherwise it is tokenized as plain text, as llama.cpp does)
  --add-special        add BOS/EOS where the model asks for them (tokenizer.ggml.add_bos_token)
  -h, --help           this text
`;

export async function tokenizeCommand(argv: string[], io: CliIO): Promise<number> {
  const str = { type: 'string' } as const, bool = { type: 'boolean' } as const;
  const { values: v } = parseFlags('tokenize', argv, {
    model: str, text: str, 'text-file': str, special: bool, 'add-special': bool, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    io.out(TOKENIZE_HELP);
    return 0;
  }
  if (!v.model) throw new UsageError('tokenize needs --model MODEL (a .gguf path or URL)');
  if ((v.text === undefined) === (v['text-file'] === undefined)) throw new UsageError('tokenize needs --text TEXT or --text-file FILE (one of them)');
  const text: string | Uint8Array = v.text ?? readFileSync(v['text-file'] === '-' ? 0 : v['text-file']!);
  const source = openSource(v.model);
  let tok: Tokenizer | undefined;
  try {
    tok = await Tokenizer.fromGGUF(await readGGUF(source));
    const ids = tok.encode(text, { parseSpecial: !!v.special, addSpecial: !!v['add-special'] });
    printJson(io, { ids: Array.from(ids) });
    return 0;
  } finally {
    tok?.dispose();
    await source.close?.();
  }
}
