// llama.cpp as an oracle, in a child process: greedy generation (with the probabilities and,
// optionally, the raw logits of every step) and tokenization of GGUF files. Models are never
// loaded in the calling process: llama.cpp aborts the process on a failed GGML_ASSERT, which
// must fail one job, not the test run. One child serves many jobs (startup costs ~1 s).
// The configuration llama.cpp runs with is described in llamacpp-worker.ts.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GreedyJob, GreedyOutput, OracleJob, OracleOutput, WorkerLine } from './llamacpp-protocol.ts';

export type { GreedyJob, GreedyOutput, GreedyStep, OracleJob, OracleOutput, TokenizeJob } from './llamacpp-protocol.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const WORKER = join(ROOT, 'tools/oracle/llamacpp-worker.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A job llama.cpp refused (load error) or that killed the worker process. */
export class OracleError extends Error {
  override name = 'OracleError';
  constructor(message: string, readonly job: OracleJob, readonly crashed = false) {
    super(message);
  }
}

export type JobResult = { ok: OracleOutput } | { error: OracleError };

/** Runs jobs in one worker process, in order; if the worker dies inside a job, that job gets an
 *  error carrying the end of its stderr and a fresh worker runs the jobs after it. */
export async function runJobs(jobs: OracleJob[]): Promise<JobResult[]> {
  const results: (JobResult | undefined)[] = new Array(jobs.length).fill(undefined);
  let start = 0;
  while (start < jobs.length) {
    const batch = jobs.slice(start);
    const { lines, code, signal, stderr } = await runWorker(batch);
    for (const line of lines) {
      const job = batch[line.i];
      results[start + line.i] = 'ok' in line ? { ok: line.ok } : { error: new OracleError(`llama.cpp failed on ${job.model}: ${line.error}`, job) };
    }
    const firstMissing = results.findIndex((r, i) => i >= start && r === undefined);
    if (firstMissing < 0) break;
    const job = jobs[firstMissing];
    const why = signal ? `signal ${signal}` : `exit code ${code}`;
    results[firstMissing] = { error: new OracleError(`llama.cpp worker died (${why}) on ${job.model}:\n${stderr.slice(-2000)}`, job, true) };
    start = firstMissing + 1;
  }
  return results as JobResult[];
}

interface WorkerRun {
  lines: WorkerLine[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A worker that prints nothing for this long is killed (a job takes well under a second). */
const STALL_MS = 180_000;

function runWorker(jobs: OracleJob[]): Promise<WorkerRun> {
  return new Promise((resolvePromise, reject) => {
    // tsx's loader (resolved from this file, whatever the cwd) runs the TypeScript worker.
    // GGML_NO_BACKTRACE: on a failed GGML_ASSERT, ggml would fork a debugger to print a stack;
    // the fork holds our pipes open and can hang. Just abort.
    const child = spawn(process.execPath, ['--import', TSX_LOADER, WORKER], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GGML_NO_BACKTRACE: '1' },
    });
    const lines: WorkerLine[] = [];
    let out = '', stderr = '';
    let stall = setTimeout(() => child.kill('SIGKILL'), STALL_MS);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      clearTimeout(stall);
      stall = setTimeout(() => child.kill('SIGKILL'), STALL_MS);
      out += s;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.startsWith('{')) {
          stderr += `[stdout] ${line}\n`; // something in llama.cpp printed to stdout
          continue;
        }
        lines.push(JSON.parse(line) as WorkerLine);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-20000);
    });
    child.on('error', (e) => {
      clearTimeout(stall);
      reject(e);
    });
    // 'close' waits for the pipes, which a forked grandchild could keep open; 'exit' does not.
    // Results already printed have been read by then or arrive before the pipes' end events.
    child.on('exit', (code, signal) => {
      clearTimeout(stall);
      let done = false;
      const finish = () => {
        if (!done) resolvePromise({ lines, code, signal, stderr });
        done = true;
      };
      child.stdout.once('end', finish);
      setTimeout(finish, 1000);
    });
    child.stdin.end(JSON.stringify(jobs));
  });
}

function unwrap<T extends OracleOutput['type']>(r: JobResult, type: T): Extract<OracleOutput, { type: T }> {
  if ('error' in r) throw r.error;
  if (r.ok.type !== type) throw new Error(`oracle answered ${r.ok.type} to a ${type} job`);
  return r.ok as Extract<OracleOutput, { type: T }>;
}

/** Greedy (temperature 0) continuation of promptIds by llama.cpp, nTokens long, with the top
 *  probabilities of every step (and the raw logits if `logits`). */
export async function greedy(modelPath: string, promptIds: number[], nTokens: number, opts: Omit<GreedyJob, 'type' | 'model' | 'prompt' | 'nTokens'> = {}): Promise<GreedyOutput> {
  const [r] = await runJobs([{ type: 'greedy', model: modelPath, prompt: promptIds, nTokens, ...opts }]);
  return unwrap(r, 'greedy');
}

/** llama.cpp's tokenization of text (no BOS added, special tokens as plain text). */
export async function tokenize(modelPath: string, text: string): Promise<number[]> {
  const [r] = await runJobs([{ type: 'tokenize', model: modelPath, text }]);
  return unwrap(r, 'tokenize').ids;
}

/** Unwraps a greedy job's result from runJobs. */
export function greedyResult(r: JobResult): GreedyOutput {
  return unwrap(r, 'greedy');
}
