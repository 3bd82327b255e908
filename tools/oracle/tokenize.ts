// llama.cpp's tokenizer as an oracle, in a child process (a GGML_ASSERT aborts the process, which
// must fail one task, not the test run): tokenize, detokenize and the vocabulary as llama.cpp
// loaded it. One child serves all tasks of one vocabulary (startup and load take ~2 s).
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import type { TokenizeLine, TokenizeResult, TokenizeTask, VocabInfo } from './tokenize-protocol.ts';

export type { TokenizeTask, TokenizeResult, VocabInfo } from './tokenize-protocol.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const WORKER = join(ROOT, 'tools/oracle/tokenize-worker.ts');

/** Runs the tasks against the vocabulary of `model` (a GGUF path). A task llama.cpp rejected or
 *  that killed the child gets an Error; the tasks after a crash run in a fresh child. */
export async function llamaTokenizer(model: string, tasks: TokenizeTask[]): Promise<(TokenizeResult | Error)[]> {
  const results: (TokenizeResult | Error | undefined)[] = new Array(tasks.length).fill(undefined);
  let start = 0;
  while (start < tasks.length) {
    const batch = tasks.slice(start);
    const { lines, code, signal, stderr } = await run(model, batch);
    for (const line of lines) results[start + line.i] = 'ok' in line ? line.ok : new Error(`llama.cpp: ${line.error}`);
    const missing = results.findIndex((r, i) => i >= start && r === undefined);
    if (missing < 0) break;
    results[missing] = new Error(`llama.cpp tokenizer process died (${signal ?? `exit ${code}`}):\n${stderr.slice(-2000)}`);
    start = missing + 1;
  }
  return results as (TokenizeResult | Error)[];
}

function run(model: string, tasks: TokenizeTask[]) {
  return new Promise<{ lines: TokenizeLine[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: TokenizeLine[] = [];
    let out = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.trim()) lines.push(JSON.parse(line) as TokenizeLine);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-20000); });
    child.on('error', rej);
    child.on('close', (code, signal) => res({ lines, code, signal, stderr }));
    child.stdin.end(JSON.stringify({ model, tasks }));
  });
}

/** Unwraps results that must all have succeeded. */
export function expectOk<T extends TokenizeResult['type']>(r: TokenizeResult | Error, type: T): Extract<TokenizeResult, { type: T }> {
  if (r instanceof Error) throw r;
  if (r.type !== type) throw new Error(`oracle answered ${r.type} to a ${type} task`);
  return r as Extract<TokenizeResult, { type: T }>;
}
