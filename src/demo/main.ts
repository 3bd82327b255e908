// The demo page: loads the catalog's default model (or ?model=URL, or a pasted URL) through the
// library API, shows download and load progress, streams generations as text, and lists and deletes
// stored models. Plain DOM; every untrusted string becomes a text node (render.ts).
import { WebMoE, type BackendChoice, type GenerateOptions, type GenerationResult, type LoadProgress, type ModelInfo, type WorkerEvent, type WorkerStats } from '../client/index.ts';
import { registerServiceWorker } from '../pwa/register.ts';
import { loadCatalog, type CatalogModel } from './catalog.ts';
import { bytes, ms, parseStops, plural, progressLine, tokS } from './format.ts';
import { byId, fillList, h, textStream } from './render.ts';
import { drawResidency, residencySummary } from './residency.ts';

type State = 'idle' | 'loading' | 'ready' | 'generating';

const ui = {
  loadForm: byId('load-form', HTMLFormElement),
  url: byId('model-url', HTMLInputElement),
  expertBudget: byId('expert-budget', HTMLInputElement),
  load: byId('load', HTMLButtonElement),
  note: byId('model-note', HTMLParagraphElement),
  progressBox: byId('progress-box', HTMLDivElement),
  progress: byId('progress', HTMLProgressElement),
  progressText: byId('progress-text', HTMLParagraphElement),
  engineText: byId('engine-text', HTMLParagraphElement),
  notices: byId('notices', HTMLUListElement),
  error: byId('error', HTMLParagraphElement),
  info: byId('model-info', HTMLElement),
  genForm: byId('gen-form', HTMLFormElement),
  prompt: byId('prompt', HTMLTextAreaElement),
  chat: byId('chat', HTMLInputElement),
  generate: byId('generate', HTMLButtonElement),
  stop: byId('stop', HTMLButtonElement),
  maxTokens: byId('max-tokens', HTMLInputElement),
  temperature: byId('temperature', HTMLInputElement),
  topK: byId('top-k', HTMLInputElement),
  topP: byId('top-p', HTMLInputElement),
  minP: byId('min-p', HTMLInputElement),
  repeatPenalty: byId('repeat-penalty', HTMLInputElement),
  seed: byId('seed', HTMLInputElement),
  stops: byId('stops', HTMLTextAreaElement),
  output: byId('output', HTMLPreElement),
  genStatus: byId('gen-status', HTMLParagraphElement),
  stats: byId('stats', HTMLElement),
  expertsBox: byId('experts-box', HTMLElement),
  expertsTop: byId('experts-top', HTMLElement),
  experts: byId('experts', HTMLCanvasElement),
  expertsText: byId('experts-text', HTMLParagraphElement),
  stored: byId('stored', HTMLUListElement),
  update: byId('update', HTMLParagraphElement),
  updateReload: byId('update-reload', HTMLButtonElement),
};

/** For the console and the e2e tests: what the page is doing and the last result. */
interface DemoHandle {
  state: State;
  model?: ModelInfo;
  last?: GenerationResult;
  /** Generations finished (or stopped) since the page opened. */
  generations: number;
  /** Tokens streamed so far by the current (or last) generation. */
  tokens: number;
  /** `tokens` when Stop was last clicked. */
  tokensAtStop?: number;
  /** The loaded model's stats (download, engine, experts), for the console and the tests. */
  stats(): Promise<WorkerStats | undefined>;
}
declare global {
  interface Window {
    webmoe: DemoHandle;
  }
}
const handle: DemoHandle = { state: 'idle', generations: 0, tokens: 0, stats: async () => llm?.stats() };
window.webmoe = handle;

let llm: WebMoE | undefined;
let loadAbort: AbortController | undefined;
let genAbort: AbortController | undefined;
let catalog: (CatalogModel & { url: string })[] = [];

function setState(s: State): void {
  handle.state = s;
  document.body.dataset.state = s;
  ui.load.textContent = s === 'loading' ? 'Cancel' : 'Load';
  ui.load.disabled = s === 'generating';
  ui.url.disabled = s === 'loading';
  ui.generate.disabled = s !== 'ready';
  ui.stop.disabled = s !== 'generating';
}

function showError(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  ui.error.textContent = `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message}`;
  ui.error.hidden = false;
  console.error(err);
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

/** Download and engine steps overlap (weights go to the GPU as they arrive): one line each. The
 *  bar follows the download until it is stored, then the engine. */
let downloading = true;
function showProgress(p: LoadProgress): void {
  const { text, fraction } = progressLine(p);
  if (p.type === 'progress') {
    ui.progressText.textContent = text;
    downloading = p.phase !== 'complete';
  } else ui.engineText.textContent = text;
  if (downloading !== (p.type === 'progress')) return;
  if (fraction === undefined) ui.progress.removeAttribute('value');
  else ui.progress.value = fraction;
}

/** What the load says besides progress (storage persisted or not, another tab downloads this
 *  model, offline, an option the backend ignores, ...), as text. */
function showNotice(e: WorkerEvent): void {
  if (e.type === 'notice') ui.notices.append(h('li', e.message));
}

// ---- load ----

async function load(url: string): Promise<void> {
  clearError();
  await unload();
  setState('loading');
  loadAbort = new AbortController();
  ui.progressBox.hidden = false;
  ui.progress.removeAttribute('value');
  ui.progressText.textContent = '';
  ui.engineText.textContent = 'Starting the engine worker';
  ui.notices.replaceChildren();
  downloading = true;
  const known = catalog.find((m) => m.url === url);
  const t0 = performance.now();
  try {
    // routed experts paged through that much GPU memory (README: Expert paging); empty: resident
    const mb = Number(ui.expertBudget.value);
    const expertBudget = mb > 0 ? Math.floor(mb * 1e6) : undefined;
    // ?ram=MB: the RAM tier below the GPU slots (default: from the device's memory)
    const ram = new URLSearchParams(location.search).get('ram');
    const ramBudget = ram !== null && Number(ram) >= 0 ? Math.floor(Number(ram) * 1e6) : undefined;
    // ?backend=webgpu|wasm: where the model runs (default auto: README, WASM CPU backend)
    const backend = (new URLSearchParams(location.search).get('backend') ?? undefined) as BackendChoice | undefined;
    llm = await WebMoE.load(url, { sha256: known?.sha256, signal: loadAbort.signal, onProgress: showProgress, onEvent: showNotice, expertBudget, ramBudget, backend });
    handle.model = llm.model;
    const s = await llm.stats();
    ui.progress.value = 1;
    ui.engineText.textContent = '';
    ui.progressText.textContent = s.download.bytesFetched === 0
      ? `Loaded from this browser's storage in ${ms(performance.now() - t0)} (nothing downloaded)`
      : `Downloaded ${bytes(s.download.bytesFetched)} and loaded in ${ms(performance.now() - t0)}`;
    showModel(llm.model);
    setState('ready');
    await showStats();
  } catch (e) {
    llm = undefined;
    handle.model = undefined;
    ui.engineText.textContent = '';
    setState('idle');
    if (e instanceof Error && e.name === 'AbortError') ui.progressText.textContent = 'Load cancelled; what was stored stays for next time';
    else {
      ui.progressBox.hidden = true;
      showError(e);
    }
  } finally {
    loadAbort = undefined;
    await refreshStored();
  }
}

async function unload(): Promise<void> {
  const old = llm;
  llm = undefined;
  handle.model = undefined;
  ui.info.replaceChildren();
  ui.stats.replaceChildren();
  ui.expertsBox.hidden = true;
  await old?.unload().catch(showError);
}

const threads = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;

function showModel(m: ModelInfo): void {
  fillList(ui.info, [
    ['Name', m.name ?? '(unnamed)'],
    ['Architecture', `${m.architecture}, ${m.nLayer} layers, embedding ${m.nEmbd}` + (m.nExpert ? `, ${m.nExpert} experts (${m.nExpertUsed} per token)` : ', dense')],
    ['Vocabulary', `${m.nVocab} tokens${m.chatTemplate ? ', chat template' : ''}`],
    ['Context', `${m.nCtx} positions (trained with ${m.nCtxTrain})`],
    ['File', bytes(m.fileBytes)],
    m.backend === 'wasm'
      ? ['Backend', `WASM CPU backend (${threads(m.threads ?? 1)}): ${m.backendReason}`]
      : ['Backend', `WebGPU on ${m.adapter}${m.f16 ? ', shader-f16' : ', f32 kernels'} (${m.kernels} kernels): ${m.backendReason}`],
  ]);
}

// ---- generate ----

/** A number field's value; undefined when empty. */
function num(el: HTMLInputElement): number | undefined {
  if (el.value.trim() === '') return undefined;
  const v = Number(el.value);
  if (!Number.isFinite(v) || !el.checkValidity()) throw new RangeError(`${el.labels?.[0]?.textContent?.trim() ?? el.id}: ${el.validationMessage || `"${el.value}" is not a valid number`}`);
  return v;
}

function options(): GenerateOptions {
  return {
    maxTokens: num(ui.maxTokens), temperature: num(ui.temperature), topK: num(ui.topK), topP: num(ui.topP),
    minP: num(ui.minP), repeatPenalty: num(ui.repeatPenalty), seed: num(ui.seed), stop: parseStops(ui.stops.value),
  };
}

async function generate(): Promise<void> {
  if (!llm) return;
  clearError();
  let opts: GenerateOptions;
  try {
    opts = options();
  } catch (e) {
    showError(e);
    return;
  }
  setState('generating');
  genAbort = new AbortController();
  opts.signal = genAbort.signal;
  const write = textStream(ui.output);
  const prompt = ui.prompt.value;
  const gen = ui.chat.checked ? llm.chat([{ role: 'user', content: prompt }], opts) : llm.generate(prompt, opts);
  let n = 0;
  handle.tokens = 0;
  const t0 = performance.now();
  ui.genStatus.textContent = 'Reading the prompt…';
  // paged experts: the residency picture follows the tokens
  const live = ui.expertsBox.hidden ? undefined : setInterval(() => void showResidency(), 400);
  try {
    for await (const chunk of gen) {
      write(chunk.text);
      n += chunk.ids.length;
      handle.tokens = n;
      ui.genStatus.textContent = `${plural(n, 'token')} · ${tokS((n * 1000) / (performance.now() - t0))}`;
    }
    const r = await gen.result;
    handle.last = r;
    ui.genStatus.textContent = describeResult(r);
  } catch (e) {
    showError(e);
    ui.genStatus.textContent = `Stopped by an error after ${n} tokens`;
  } finally {
    clearInterval(live);
    handle.generations++;
    genAbort = undefined;
    if (llm) setState('ready');
    await showStats();
  }
}

const STOPS: Record<GenerationResult['stop'], string> = {
  eog: 'the model ended its text', 'stop-string': 'a stop string', 'max-tokens': 'max tokens reached',
  'context-full': 'the context is full', aborted: 'stopped',
};

function describeResult(r: GenerationResult): string {
  return [
    plural(r.promptIds.length, 'prompt token'), `${r.ids.length} generated`, STOPS[r.stop],
    `prefill ${tokS(r.prefillTokS)}`, `decode ${tokS(r.decodeTokS)}`, ...(r.seed !== undefined ? [`seed ${r.seed}`] : []),
  ].join(' · ');
}

// ---- stats and stored models ----

async function showStats(): Promise<void> {
  if (!llm) return;
  try {
    const s = await llm.stats();
    await showResidency(s);
    const g = s.engine.gpuBytes;
    const gpuTotal = g.weights + g.kv + g.scratch + g.io;
    const memory: [string, string] = s.wasm
      ? ['WASM heap', `${bytes(s.wasm.heapBytes)}: weights ${bytes(s.wasm.weightBytes)}, KV cache and activations ${bytes(s.wasm.heapBytes - s.wasm.weightBytes)}`]
      : ['GPU memory', `${bytes(gpuTotal)}: weights ${bytes(g.weights)}, KV cache ${bytes(g.kv)}, scratch ${bytes(g.scratch + g.io)}`];
    const x = s.engine.experts, hx = s.wasm?.experts;
    const looked = x ? x.hits + x.misses : 0;
    fillList(ui.stats, [
      ['Prefill (last)', s.last ? `${tokS(s.last.prefillTokS)} (${plural(s.last.promptIds.length, 'token')} in ${ms(s.last.prefillMs)})` : '–'],
      ['Decode (last)', s.last ? tokS(s.last.decodeTokS) : '–'],
      ['Decode (all)', tokS(s.engine.decodeMs > 0 ? (s.engine.decodeTokens * 1000) / s.engine.decodeMs : null)],
      ...(s.wasm ? [] : [['Kernel launches per token', String(s.engine.launchesPerToken || '–')] as [string, string]]),
      ['Downloaded (this load)', `${bytes(s.download.bytesFetched)}${s.download.chunksResumed ? ` (${s.download.chunksResumed} chunks were stored already)` : ''}`],
      ['Stored', `${bytes(s.download.bytesStored)} of ${bytes(s.download.bytesTotal)}${s.download.complete ? ', complete' : ''}`],
      memory,
      ['Load time', `${ms(s.load.readyMs)} (${s.load.storedMs ? `weights stored after ${ms(s.load.storedMs)}` : 'the download goes on'})`],
      ...(x ? [['Experts (paged)', `${x.slots} GPU slots, ${bytes(x.ramBudget)} RAM; of ${looked} lookups ${x.hits} found on the GPU` +
        `${looked ? ` (${Math.round((100 * x.hits) / looked)}%)` : ''}, ${x.ramHits} in RAM, ${x.storeReads} read from storage; ` +
        `${bytes(x.uploadedBytes)} uploaded; prefetch guessed ${x.guesses ? Math.round((100 * x.guessHits) / x.guesses) : 0}% right`] as [string, string]] : []),
      ...(hx ? [['Experts (paged)', `${hx.slots} heap slots (${bytes(hx.slotBytes)}), ${bytes(hx.ramBudget)} RAM; of ${hx.hits + hx.misses} lookups ${hx.hits} found in the heap` +
        `${hx.hits + hx.misses ? ` (${Math.round((100 * hx.hits) / (hx.hits + hx.misses))}%)` : ''}, ${hx.ramHits} in RAM, ${hx.storeReads} read from storage; ${bytes(hx.copiedBytes)} copied; ` +
        `prefetch guessed ${hx.guesses ? Math.round((100 * hx.guessHits) / hx.guesses) : 0}% right`] as [string, string]] : []),
    ]);
  } catch (e) {
    showError(e);
  }
}

/** The residency picture, redrawn from the worker's stats (while generating: a few times a second). */
async function showResidency(s?: WorkerStats): Promise<void> {
  const r = (s ?? (await llm?.stats().catch(() => undefined)))?.residency;
  ui.expertsBox.hidden = !r;
  if (!r) return;
  drawResidency(ui.experts, r);
  const top = llm?.model.backend === 'wasm' ? 'in the heap' : 'on the GPU';
  ui.expertsTop.textContent = top;
  ui.expertsText.textContent = residencySummary(r, top);
}

async function refreshStored(): Promise<void> {
  try {
    const models = await WebMoE.listModels();
    if (models.length === 0) {
      ui.stored.replaceChildren(h('li', 'None yet.'));
      return;
    }
    ui.stored.replaceChildren(...models.map((m) => {
      const li = h('li');
      const loaded = llm?.model.id === m.id;
      const size = m.size !== undefined ? bytes(m.size) : '?';
      const state = m.complete ? 'complete' : `${bytes(m.storedBytes)} of ${size} stored`;
      const title = h('span', `${m.name ?? m.url ?? m.id}${loaded ? ' (loaded)' : ''}`, { class: 'grow', title: m.url ?? m.id });
      const del = h('button', 'Delete', { type: 'button', 'aria-label': `Delete ${m.name ?? m.id}` });
      del.addEventListener('click', () => void remove(m.id, loaded));
      li.append(title, h('span', `${size} · ${state}`, { class: 'note' }), del);
      return li;
    }));
  } catch (e) {
    ui.stored.replaceChildren(h('li', `Cannot list stored models: ${e instanceof Error ? e.message : String(e)}`));
  }
}

async function remove(id: string, loaded: boolean): Promise<void> {
  if (handle.state === 'loading' || handle.state === 'generating') return;
  if (loaded) {
    await unload();
    setState('idle');
    ui.progressBox.hidden = true;
  }
  try {
    await WebMoE.deleteModel(id);
  } catch (e) {
    showError(e);
  }
  await refreshStored();
}

// ---- wiring ----

ui.loadForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (loadAbort) loadAbort.abort();
  else void load(ui.url.value.trim());
});
ui.genForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void generate();
});
ui.stop.addEventListener('click', () => {
  handle.tokensAtStop = handle.tokens;
  genAbort?.abort();
});
ui.prompt.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && handle.state === 'ready') void generate();
});

async function start(): Promise<void> {
  setState('idle');
  void refreshStored();
  try {
    catalog = await loadCatalog();
  } catch (e) {
    showError(e);
  }
  const first = catalog[0];
  const query = new URLSearchParams(location.search);
  const asked = query.get('model');
  ui.expertBudget.value = query.get('experts') ?? ''; // ?experts=MB
  const url = asked ?? first?.url;
  if (first) {
    const ex = first.experts ? `, ${first.experts.count} experts, top-${first.experts.used}` : '';
    ui.note.textContent = `Default: ${first.id} (${bytes(first.size)}${ex}). ${first.description ?? ''}`;
  }
  if (!url) return;
  ui.url.value = url;
  await load(url); // without WebGPU, on the WASM CPU backend (backend auto)
}

// The built site is an offline app (README: Offline PWA): its service worker precaches the shell;
// models stay in IndexedDB. The dev server has none, so edits show up on reload.
if (import.meta.env.PROD) {
  registerServiceWorker({
    url: new URL(`${import.meta.env.BASE_URL}sw.js`, location.href),
    onUpdateReady: ({ apply }) => {
      ui.update.hidden = false;
      ui.updateReload.onclick = apply;
    },
  }).catch((e: unknown) => console.warn('WebMoE: no service worker, so no offline use:', e));
}

void start();