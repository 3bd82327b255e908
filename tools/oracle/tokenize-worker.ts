// Child process of tools/oracle/tokenize.ts: loads one vocabulary into llama.cpp (node-llama-cpp,
// vocabOnly, CPU build) and answers tokenize / detokenize / info tasks, one JSON line each.
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import type { TokenizeLine, TokenizeRequest, TokenizeResult } from './tokenize-protocol.ts';

// Whole stdin as one UTF-8 string (decoding chunk by chunk would break characters split
// between chunks).
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const send = (line: TokenizeLine) => process.stdout.write(JSON.stringify(line) + '\n');

async function main(): Promise<void> {
  const req = JSON.parse(await readStdin()) as TokenizeRequest;
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    logLevel: LlamaLogLevel.error,
    logger: (level: LlamaLogLevel, message: string) => process.stderr.write(`[llama.cpp ${level}] ${message.trimEnd()}\n`),
  });
  const model = await llama.loadModel({ modelPath: req.model, vocabOnly: true });
  req.tasks.forEach((task, i) => {
    try {
      let ok: TokenizeResult;
      if (task.type === 'tokenize') ok = { type: 'tokenize', ids: Array.from(model.tokenize(task.text, task.special)) };
      else if (task.type === 'detokenize') ok = { type: 'detokenize', text: model.detokenize(task.ids as Token[], task.special) };
      else {
        let n = 0;
        for (const _ of model.iterateAllTokens()) n++;
        const eog: number[] = [], attrs: number[] = [];
        for (let id = 0; id < n; id++) {
          if (model.isEogToken(id as Token)) eog.push(id);
          const a = model.getTokenAttributes(id as Token) as unknown as Record<string, boolean>;
          const bits = ['unknown', 'unused', 'normal', 'control', 'userDefined', 'byte', 'normalized', 'lstrip', 'rstrip', 'singleWord'];
          attrs.push(bits.reduce((acc, b, k) => acc | (a[b] ? 1 << k : 0), 0));
        }
        ok = {
          type: 'info',
          info: {
            nVocab: n, bos: model.tokens.bos, eos: model.tokens.eos,
            addBos: model.tokens.shouldPrependBosToken, addEos: model.tokens.shouldAppendEosToken, eog, attrs,
          },
        };
      }
      send({ i, ok });
    } catch (e) {
      send({ i, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  });
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => {
  process.stderr.write(`tokenize-worker: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
