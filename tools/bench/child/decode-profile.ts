// Child process of tools/bench/decode-ab.ts: decode speed after a prompt, and where one decode
// step's time goes. Loads a GGUF into the WebGPU engine, runs a prompt of `positions` tokens and
// `nDecode` decode steps (ms per token); with `ops`, then times the next decode step's launches
// all in one compute pass without a readback (passMs), and each launch on its own: `reps`
// launches of it in one compute pass, best of 3 (they rewrite the same buffers, which changes no
// timing), grouped by label without the layer prefix (blk.N.). Printed as one JSON line.
//   argv[2]: JSON { model, positions, nDecode, kernels?, kvType?, ops?, reps? }
import { fileSource } from '../../../src/gguf/source-node.ts';
import { WebGPUEngine } from '../../../src/engine/engine.ts';
import type { ForwardGraph } from '../../../src/engine/graph.ts';
import { Op, runOps } from '../../../src/gpu/op.ts';
import type { KernelChoice } from '../../../src/gpu/variant.ts';

const args = JSON.parse(process.argv[2]) as { model: string; positions: number; nDecode: number; kernels?: KernelChoice; kvType?: 'auto' | 'f32' | 'f16'; ops?: boolean; reps?: number };
try {
  const source = fileSource(args.model);
  const engine = await WebGPUEngine.load(source, { nCtx: args.positions + args.nDecode + 8, maxBatch: 64, kernels: args.kernels, kvType: args.kvType });
  await source.close?.();
  const { session } = engine;
  const prompt = Array.from({ length: args.positions }, (_, i) => 10 + ((i * 37) % 1200));
  let { next } = await engine.forward(prompt);
  ({ next } = await engine.forward([next])); // warm up
  let t = performance.now();
  for (let i = 0; i < args.nDecode; i++) ({ next } = await engine.forward([next]));
  const decodeMs = (performance.now() - t) / args.nDecode;
  const head = { adapter: session.adapterName, kernels: engine.kernels, kvType: engine.kvType, positions: args.positions, decodeMs: +decodeMs.toFixed(3) };
  if (!args.ops) {
    process.stdout.write(JSON.stringify(head) + '\n');
    process.exit(0);
  }
  const graph = (engine as unknown as { graph: ForwardGraph }).graph;
  const nPast = args.positions + args.nDecode + 1;
  const ops = graph.ops(1, nPast, false).filter((o): o is Op => o instanceof Op);
  const wait = () => session.device.queue.onSubmittedWorkDone();
  // the whole step in one pass, no readback
  runOps(session, ops);
  await wait();
  let passMs = Infinity;
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    runOps(session, ops);
    await wait();
    passMs = Math.min(passMs, performance.now() - t);
  }
  const reps = args.reps ?? 20;
  const groups = new Map<string, { ms: number; launches: number }>();
  for (const op of ops) {
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const all = Array.from({ length: reps }, () => op);
      t = performance.now();
      runOps(session, all);
      await wait();
      best = Math.min(best, (performance.now() - t) / reps);
    }
    const name = op.label.replace(/^blk\.\d+\./, '');
    const g = groups.get(name) ?? { ms: 0, launches: 0 };
    g.ms += best;
    g.launches++;
    groups.set(name, g);
  }
  session.check();
  const byOp = [...groups].map(([name, g]) => ({ name, ms: +g.ms.toFixed(3), launches: g.launches })).sort((a, b) => b.ms - a.ms);
  process.stdout.write(JSON.stringify({
    ...head, passMs: +passMs.toFixed(3), launches: ops.length,
    sumOfLaunchesMs: +byOp.reduce((s, g) => s + g.ms, 0).toFixed(3), byOp,
  }) + '\n');
  engine.destroy();
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }) + '\n');
}
process.exit(0);
