// The site's benchmark page (bench.html): the decode kernels of src/gpu/bench.ts (the same
// measurement as `npm run bench`'s gpu-kernels) on the visitor's adapter. ?quick=1 runs a small
// set with few launches (the e2e test on SwiftShader); the default set takes seconds on a GPU.
// With the box ticked, the demo's default model (public/models/) also runs through the library
// API (a worker, as on the demo page): prefill and decode tokens per second in each kernel shape.
import { GGMLType } from '../gguf/types.ts';
import { attentionVariants, DECODE_SHAPES, kernelVariants, measureKernels, PREFILL_SHAPES, PREFILL_TOKENS, type KernelBenchOptions, type KernelResult } from '../gpu/bench.ts';
import { GPUSession } from '../gpu/session.ts';
import { resolveKernels, type KernelChoice } from '../gpu/variant.ts';
import { WebMoE } from '../client/webmoe.ts';
import { loadCatalog } from '../demo/catalog.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const runBtn = $<HTMLButtonElement>('run');
const copyBtn = $<HTMLButtonElement>('copy');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLParagraphElement>('status');
const errorBox = $<HTMLParagraphElement>('error');
const results = $<HTMLTableSectionElement>('results');
const json = $<HTMLPreElement>('json');
const withModel = $<HTMLInputElement>('with-model');
const modelTable = $<HTMLTableElement>('model-table');
const modelResults = $<HTMLTableSectionElement>('model-results');

/** A prompt of some 60 tokens for the prefill figure. */
const PROMPT = 'The old lighthouse keeper climbed the stairs each evening, counting the steps as his father had, ' +
  'and from the top he watched the fishing boats come home across the grey water while the gulls circled ' +
  'the harbour and the town lit its lamps one by one along the shore.';

const quick = new URLSearchParams(location.search).get('quick') === '1';

/** What a run measures: ?quick=1 one weight type and one decode shape, few launches. */
function plan(): KernelBenchOptions & { types: GGMLType[]; shapes: typeof DECODE_SHAPES } {
  if (quick) {
    return { types: [GGMLType.Q4_K], shapes: DECODE_SHAPES.filter((s) => s.name === 'Qwen3-30B-A3B expert down'), attention: false, reps: 2, rounds: 2, copyBytes: 16 << 20 };
  }
  return { types: [GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q8_0, GGMLType.F16], shapes: DECODE_SHAPES, attention: true, prefill: PREFILL_SHAPES };
}

$<HTMLParagraphElement>('mode').textContent = quick
  ? 'Quick run (?quick=1): Q4_K at 2048x2048 and one decode shape, 2 launches each.'
  : `Q4_K, Q6_K, Q8_0 and F16 at 2048x2048, then decode layer shapes of Qwen3-30B-A3B, Llama-3.2-1B and gpt-oss-20b, in each kernel shape, then the prefill product of ${PREFILL_TOKENS} tokens on layer shapes in both shapes (GFLOP/s in the JSON) (seconds on a GPU, several minutes on a software adapter such as SwiftShader: 3-4 without the prefill products, which take seconds a launch there).`;

function showError(e: unknown) {
  errorBox.hidden = false;
  errorBox.textContent = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Adapter facts for the JSON and the page. */
function describe(session: GPUSession) {
  const info = session.ctx.info;
  return {
    name: session.adapterName,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: session.software,
    f16: session.features.f16,
    subgroups: session.features.subgroups,
    kernelsAuto: resolveKernels(session, 'auto'),
    maxStorageBufferBindingSize: session.limits.maxStorageBufferBindingSize,
    maxBufferSize: session.limits.maxBufferSize,
  };
}

function showAdapter(facts: Record<string, unknown>) {
  const dl = $<HTMLDListElement>('adapter');
  dl.replaceChildren();
  for (const [k, v] of Object.entries(facts)) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v === '' ? '—' : v);
    dl.append(dt, dd);
  }
}

/** A table row of text cells, from the third one right-aligned numbers. */
function addRow(body: HTMLTableSectionElement, cells: string[]) {
  const tr = document.createElement('tr');
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (i >= 2) td.className = 'num';
    tr.append(td);
  });
  body.append(tr);
}

function addKernelRow(r: KernelResult) {
  addRow(results, [r.kernel, r.shape, r.kernel === 'copy' ? '' : r.ms.toFixed(3), r.gbs.toFixed(2), r.kernel === 'copy' ? '' : `${(100 * r.ofCopy).toFixed(0)}%`]);
}

export interface ModelRun {
  /** Asked for, and what ran (auto resolved). */
  kernels: KernelChoice;
  ran: string;
  loadMs: number;
  promptTokens: number;
  prefillTokS: number;
  decodeTokens: number;
  decodeTokS: number | null;
}

/** The catalog's first model loaded with `kernels`: a short warm-up generation, then the prompt
 *  and `decodeTokens` greedy tokens (end of text ignored) timed by the engine. */
async function modelRun(url: string, sha256: string | undefined, kernels: KernelChoice, decodeTokens: number): Promise<ModelRun> {
  const t0 = performance.now();
  const llm = await WebMoE.load(url, { sha256, kernels, backend: 'webgpu' }); // the GPU's kernels, also on a software adapter
  const loadMs = performance.now() - t0;
  try {
    await llm.generate('Once', { maxTokens: 2, temperature: 0 }).result;
    const r = await llm.generate(PROMPT, { maxTokens: decodeTokens, temperature: 0, ignoreEos: true }).result;
    return { kernels, ran: llm.model.kernels, loadMs: Math.round(loadMs), promptTokens: r.prefilledTokens, prefillTokS: +r.prefillTokS.toFixed(1), decodeTokens: r.ids.length, decodeTokS: r.decodeTokS === null ? null : +r.decodeTokS.toFixed(1) };
  } finally {
    await llm.unload();
  }
}

async function run() {
  runBtn.disabled = true;
  copyBtn.disabled = true;
  errorBox.hidden = true;
  results.replaceChildren();
  modelResults.replaceChildren();
  modelTable.hidden = true;
  json.textContent = '';
  document.body.dataset.state = 'running';
  let session: GPUSession | undefined;
  try {
    status.textContent = 'Opening the WebGPU device…';
    session = await GPUSession.create();
    const adapter = describe(session);
    showAdapter(adapter);
    const p = plan();
    const nv = kernelVariants(session).length;
    const modelKernels: KernelChoice[] = !withModel.checked ? [] : quick ? ['auto'] : ['software', 'hardware'];
    // copy, each type's matvecs and its two input conversions, each shape's matvecs, the prefill
    // matmuls (both shapes), the attention variants, model runs
    const total = 1 + p.types.length * (nv + 2) + p.shapes.length * nv + 2 * (p.prefill?.length ?? 0) + (p.attention ? attentionVariants(session).length : 0) + modelKernels.length;
    let done = 0;
    progress.max = total;
    progress.value = 0;
    const t0 = performance.now();
    const out = await measureKernels(session, {
      ...p,
      onResult: (r) => {
        addKernelRow(r);
        progress.value = ++done;
        status.textContent = `${done} of ${total}: ${r.kernel} ${r.shape}`;
      },
    });
    session.destroy(); // the model runs in a worker on its own device
    session = undefined;
    let model: { id: string; bytes: number; runs: ModelRun[] } | undefined;
    if (modelKernels.length) {
      const [m] = await loadCatalog();
      if (!m) throw new Error('the model catalog (models/models.json) lists no model');
      model = { id: m.id, bytes: m.size, runs: [] };
      modelTable.hidden = false;
      for (const k of modelKernels) {
        status.textContent = `${done} of ${total}: ${m.id} with kernels '${k}' (load and generate)…`;
        const r = await modelRun(m.url, m.sha256, k, quick ? 8 : 32);
        model.runs.push(r);
        addRow(modelResults, [m.id, r.ran, (r.loadMs / 1000).toFixed(1), r.prefillTokS.toFixed(1), r.decodeTokS?.toFixed(1) ?? '']);
        progress.value = ++done;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const report = {
      page: 'webmoe bench.html',
      date: new Date().toISOString(),
      userAgent: navigator.userAgent,
      quick,
      seconds: +seconds.toFixed(1),
      adapter,
      copyGBs: out.copyGBs,
      kernels: out.kernels,
      model,
    };
    json.textContent = JSON.stringify(report, null, 2);
    copyBtn.disabled = false;
    status.textContent = `Done: ${out.kernels.length} kernels in ${seconds.toFixed(1)} s.`;
    document.body.dataset.state = 'done';
  } catch (e) {
    showError(e);
    status.textContent = 'Failed.';
    document.body.dataset.state = 'error';
  } finally {
    session?.destroy();
    status.textContent = 'Press Run: the adapter is opened then.';
runBtn.disabled = false;
  }
}

runBtn.addEventListener('click', () => void run());
copyBtn.addEventListener('click', () => {
  navigator.clipboard.writeText(json.textContent ?? '').then(
    () => { status.textContent = 'Copied the JSON.'; },
    () => { status.textContent = 'The clipboard refused: select the block and copy it by hand.'; },
  );
});
status.textContent = 'Press Run: the adapter is opened then.';
runBtn.disabled = false;
