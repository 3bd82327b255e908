// Decode A/B on lavapipe: ms per decoded token of two versions of the code in the same run, one
// child process per measurement (tools/bench/child/decode-profile.ts), rounds alternating (old,
// new, old, ...), medians and the machine's load beside them; with WEBMOE_AB_PROFILE=1 also, once
// per side and case, where a decode step's time goes (each launch timed on its own).
//   npm run bench -- decode-ab
// Sides: WEBMOE_AB_OLD, a git ref (default HEAD), its tree exported by `git archive` into
// .cache/bench/ab/<commit>; WEBMOE_AB_NEW, a git ref or a directory holding a copy of the
// repository (default: this working tree). This tree's child script is copied into each side, so
// a ref from before it still runs.
// Cases (WEBMOE_AB_CASES, comma-separated names; default all): Qwen3-30B-A3B's layer shape (the
// scale-model preset's widths: d 2048, 32/4 heads of 128, 128 experts of 768, top-8; 2 layers,
// ~0.7 GB) and the engine bench's 8-expert Q4_K model, each after 64 and 512 prompt positions.
// WEBMOE_AB_ROUNDS (default 5); WEBMOE_AB_OPTS: engine options for both sides as JSON (e.g.
// {"kvType":"f32"} or {"kernels":"hardware"}).
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { writeScaleModel } from '../factory/scale-model.ts';
import { MODELS, modelPath } from './engine.ts';

export const explicitOnly = true; // minutes on lavapipe

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const LAVAPIPE = join(ROOT, '.cache/lavapipe');
const CHILD = 'tools/bench/child/decode-profile.ts';

interface Side { name: string; ref: string; dir: string }
interface Result { decodeMs?: number; error?: string; [k: string]: unknown }

/** A ref's tree under .cache/bench/ab/<commit> (or a directory as given), with this tree's child. */
function side(name: string, spec: string | undefined): Side {
  let dir = ROOT, ref = 'working tree';
  if (spec && existsSync(spec)) {
    dir = resolve(spec);
    ref = spec;
  } else if (spec) {
    ref = execFileSync('git', ['rev-parse', spec], { cwd: ROOT }).toString().trim();
    dir = join(ROOT, '.cache/bench/ab', ref);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      execFileSync('bash', ['-c', `git archive ${ref} | tar -x -C "${dir}"`], { cwd: ROOT });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    }
  }
  if (dir !== ROOT) copyFileSync(join(ROOT, CHILD), join(dir, CHILD));
  return { name, ref, dir };
}

function run(s: Side, args: object): Promise<Result> {
  const env = { ...process.env, VK_ICD_FILENAMES: join(LAVAPIPE, 'lvp_icd.json') };
  return new Promise((done) => {
    execFile(join(LAVAPIPE, 'node'), [join(s.dir, 'bin/run-ts.mjs'), join(s.dir, CHILD), JSON.stringify(args)],
      { cwd: s.dir, env, timeout: 1_800_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        try {
          done(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
        } catch {
          done({ error: `exited (${err?.code ?? err?.signal ?? 'no result'}): ${stderr.slice(-300)}` });
        }
      });
  });
}

/** Qwen3-30B-A3B's layer widths with 128 experts, 2 layers (scale-model.ts, random Q4_K blocks). */
async function qwen3LayerModel(): Promise<string> {
  const path = join(ROOT, '.cache/bench/ab-qwen3-30b-a3b-2layers.gguf');
  if (!existsSync(path)) await writeScaleModel(path, { preset: 'qwen3-30b-a3b-mini', hp: { nExpert: 128, nLayer: 2 } });
  return path;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export default async function bench() {
  if (!existsSync(join(LAVAPIPE, 'node'))) return { error: 'no .cache/lavapipe: run scripts/lavapipe.sh' };
  const sides = [side('old', process.env.WEBMOE_AB_OLD ?? 'HEAD'), side('new', process.env.WEBMOE_AB_NEW)];
  const rounds = Number(process.env.WEBMOE_AB_ROUNDS ?? 5);
  const opts = JSON.parse(process.env.WEBMOE_AB_OPTS ?? '{}') as object;
  const moe = MODELS.find((m) => m.name === 'moe-q4_k')!;
  const all = [
    { name: 'qwen3-layers-64', model: () => qwen3LayerModel(), positions: 64, nDecode: 8 },
    { name: 'qwen3-layers-512', model: () => qwen3LayerModel(), positions: 512, nDecode: 8 },
    { name: 'bench-moe-64', model: async () => modelPath(moe), positions: 64, nDecode: 16 },
    { name: 'bench-moe-512', model: async () => modelPath(moe), positions: 512, nDecode: 16 },
  ];
  const only = process.env.WEBMOE_AB_CASES?.split(',');
  const cases = [];
  for (const c of all.filter((c) => !only || only.includes(c.name))) {
    const args = { ...opts, model: await c.model(), positions: c.positions, nDecode: c.nDecode };
    const ms: Record<string, number[]> = { old: [], new: [] };
    const load: number[] = [];
    const errors: string[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 ? [...sides].reverse() : sides) {
        load.push(loadavg()[0]);
        process.stderr.write(`decode-ab ${c.name} round ${r + 1}/${rounds} ${s.name} (load ${loadavg()[0].toFixed(1)})\n`);
        const res = await run(s, args);
        if (res.decodeMs) ms[s.name].push(res.decodeMs);
        else errors.push(`${s.name}: ${res.error}`);
      }
    }
    let profile: Record<string, Result> | undefined;
    if (process.env.WEBMOE_AB_PROFILE === '1') {
      profile = {};
      for (const s of sides) profile[s.name] = await run(s, { ...args, ops: true }); // one at a time
    }
    const med = { old: ms.old.length ? median(ms.old) : NaN, new: ms.new.length ? median(ms.new) : NaN };
    cases.push({
      name: c.name, positions: c.positions, msPerToken: ms, medianMs: med, newOverOld: +(med.new / med.old).toFixed(3),
      loadavg1: { min: +Math.min(...load).toFixed(2), max: +Math.max(...load).toFixed(2) }, errors: errors.length ? errors : undefined, profile,
    });
  }
  return { device: 'lavapipe', sides: sides.map(({ name, ref }) => ({ name, ref })), rounds, engineOptions: opts, cases };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench(), null, 2));
}
