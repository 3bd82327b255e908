// <webmoe-chat>: a streaming multi-turn chat with a model in one tag.
//
//   <script type="module" src="webmoe-chat.js"></script>
//   <webmoe-chat system-prompt="Be brief." temperature="0.7"></webmoe-chat>
//
// A plain HTMLElement, no framework: the element is one form and one list that change in a few
// places (a message appended, text streamed into it, buttons enabled), which DOM calls say as
// briefly as Lit's templates would, without a dependency in every page that embeds it.
// Shadow DOM; styles from a constructable stylesheet (adoptedStyleSheets: no <style>, no style
// attribute, so it runs under CSP style-src 'self'); pages restyle it with ::part() and
// --webmoe-* custom properties (chat.css). Text from the model, the user and errors only ever
// becomes text nodes (src/demo/render.ts), never HTML.
//
// The model is the catalog's first one (public/models/models.json, as the demo loads it) unless
// `src` names a GGUF. Elements asking for the same model share one WebMoE (one worker, one copy of
// the weights: registry.ts). The conversation keeps its tokens between turns, so the worker reuses
// their KV cache and prefills only each new turn (src/client/conversation.ts).
import type { Conversation } from '../client/conversation.ts';
import type { TokenChunk } from '../client/generation.ts';
import type { GenerationResult, ModelInfo } from '../client/protocol.ts';
import type { LoadProgress, WebMoE } from '../client/webmoe.ts';
import { loadCatalog } from '../demo/catalog.ts';
import { plural, progressLine } from '../demo/format.ts';
import { h } from '../demo/render.ts';
import type { NoticeEvent } from '../fetch/progress.ts';
import css from './chat.css?raw';
import { splitReasoning } from './reasoning.ts';
import { backendAttribute, kernelsAttribute, megabytes, samplingOptions, thinkingAttribute } from './options.ts';
import { sharedModels, type Lease, type LoadUpdate } from './registry.ts';

export type ChatState = 'idle' | 'loading' | 'ready' | 'generating' | 'error';

/** The element's events: they bubble and cross shadow roots. */
export interface WebMoEChatEventMap {
  /** Download progress (phase, bytes, rate, ETA) and the engine's load steps. */
  'webmoe-progress': CustomEvent<LoadProgress>;
  /** What the load says besides progress: another tab downloads the model (this one waits), a
   *  stored model used offline, an option the backend ignores, storage not persisted, ... */
  'webmoe-notice': CustomEvent<NoticeEvent>;
  /** The model is loaded: what it is. */
  'webmoe-ready': CustomEvent<ModelInfo>;
  /** Tokens of the answer and the text they release ('' while a character is incomplete). */
  'webmoe-token': CustomEvent<TokenChunk>;
  /** The answer ended (at its end, Stop, max-tokens, ...): ids, text, prefilled/reused tokens, speeds. */
  'webmoe-done': CustomEvent<GenerationResult>;
  /** A load or a turn failed: the error with its name, code and a message that says what to do. */
  'webmoe-error': CustomEvent<Error>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface HTMLElementEventMap extends WebMoEChatEventMap {}
  interface HTMLElementTagNameMap {
    'webmoe-chat': WebMoEChat;
  }
}

const LOAD_ATTRIBUTES = ['src', 'expert-budget', 'ram-budget', 'kernels', 'backend'];
/** Notices shown under the progress (all are sent as webmoe-notice events). */
const SHOWN_NOTICES = new Set<NoticeEvent['what']>(['shared', 'offline', 'ignored-option', 'restarted']);
const PLACEHOLDER = 'Message (Enter to send, Shift+Enter for a new line)';

let sheet: CSSStyleSheet | undefined;
/** One stylesheet object for every element of the page. */
function styles(): CSSStyleSheet {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
  }
  return sheet;
}

let catalogModel: Promise<{ url: string; sha256?: string }> | undefined;
/** The catalog's first model, read once per page. */
function defaultModel(): Promise<{ url: string; sha256?: string }> {
  catalogModel ??= loadCatalog().then(([first]) => {
    if (!first) throw new Error('the model catalog lists no model: give <webmoe-chat> a src attribute (a GGUF URL)');
    return { url: first.url, sha256: first.sha256 };
  });
  catalogModel.catch(() => { catalogModel = undefined; });
  return catalogModel;
}

/** A message in the list: a speaker label and a text that grows as tokens arrive. An answer's
 *  reasoning (a thinking model's <think> block) goes into a folded "Thinking" box above it. */
function message(role: 'user' | 'assistant', who: string): { li: HTMLLIElement; append(text: string): void } {
  const li = h('li', undefined, { part: `message ${role}`, class: `message ${role}` });
  const body = h('div', undefined, { class: 'text' });
  const summary = h('summary', 'Thinking');
  const thought = h('div', undefined, { class: 'thought' });
  const reasoning = h('details', undefined, { part: 'reasoning', class: 'reasoning', hidden: '' });
  reasoning.append(summary, thought);
  li.append(h('span', who, { class: 'who' }), reasoning, body);
  let full = '';
  return {
    li,
    append: (text) => {
      full += text;
      const r = role === 'assistant' ? splitReasoning(full) : { reasoning: '', answer: full, thinking: false };
      reasoning.hidden = !r.reasoning && !r.thinking;
      summary.textContent = r.thinking ? 'Thinking…' : 'Thought';
      thought.textContent = r.reasoning;
      // The answer's leading newlines or space separate it from the prompt ("Assistant:"): not shown.
      body.textContent = r.answer.replace(/^\s+/, '');
    },
  };
}

/** The element's parts (attached to the shadow root in the constructor). */
function view() {
  return {
    progress: h('progress', undefined, { part: 'progress', max: '1', 'aria-label': 'Loading the model' }),
    download: h('p', undefined, { role: 'status' }),
    engine: h('p'),
    notice: h('p', undefined, { part: 'notice' }),
    error: h('p', undefined, { part: 'error', class: 'error', role: 'alert', hidden: '' }),
    list: h('ol', undefined, { part: 'messages', class: 'messages', 'aria-label': 'Conversation' }),
    note: h('p', undefined, { part: 'note', class: 'note', role: 'status' }),
    // The whole answer once it is complete: read out once, not token by token.
    live: h('div', undefined, { part: 'live', class: 'visually-hidden', 'aria-live': 'polite' }),
    form: h('form', undefined, { part: 'form', class: 'form' }),
    input: h('textarea', undefined, { id: 'input', part: 'input', rows: '2', placeholder: PLACEHOLDER }),
    send: h('button', 'Send', { type: 'submit', part: 'send', disabled: '' }),
    stop: h('button', 'Stop', { type: 'button', part: 'stop', disabled: '', 'aria-keyshortcuts': 'Escape' }),
    clear: h('button', 'Clear', { type: 'button', part: 'clear' }),
  };
}

export class WebMoEChat extends HTMLElement {
  static readonly observedAttributes = [...LOAD_ATTRIBUTES, 'placeholder'];

  private readonly ui = view();
  private readonly internals = this.attachInternals();
  private current: ChatState = 'idle';
  private lease?: Lease;
  private llm?: WebMoE;
  private conv?: Conversation;
  /** The model `conv` runs on. */
  private convModel?: WebMoE;
  /** The load under way (send() waits for it); bumping `loads` makes an older load's end moot. */
  private loading: Promise<void> = Promise.resolve();
  private loads = 0;
  private reloadQueued = false;
  /** Turns run one after another; `turn` stops the running one. */
  private turns: Promise<unknown> = Promise.resolve();
  private turn?: AbortController;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [styles()];
    const ui = this.ui;
    const status = h('div', undefined, { part: 'status', class: 'status' });
    status.append(ui.progress, ui.download, ui.engine, ui.notice);
    ui.form.append(h('label', 'Message', { for: 'input', class: 'visually-hidden' }), ui.input, ui.send, ui.stop, ui.clear);
    const container = h('div', undefined, { part: 'container', class: 'container' });
    container.append(status, ui.error, ui.list, ui.note, ui.form, ui.live);
    root.append(container);

    ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    ui.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault(); // Shift+Enter keeps its new line
        this.submit();
      } else if (e.key === 'Escape' && this.current === 'generating') {
        e.preventDefault();
        this.stop();
      }
    });
    ui.stop.addEventListener('click', () => this.stop());
    ui.clear.addEventListener('click', () => this.clear());
  }

  // ---- attributes as properties ----

  /** GGUF URL; empty: the catalog's first model. */
  get src(): string { return this.getAttribute('src') ?? ''; }
  set src(v: string) { this.setOrRemove('src', v || undefined); }
  /** MoE: MB of GPU memory for routed experts (paged through it); unset: all resident. */
  get expertBudget(): number | undefined { return this.num('expert-budget'); }
  set expertBudget(v: number | undefined) { this.setOrRemove('expert-budget', v); }
  /** With expertBudget: MB of the RAM tier under the GPU slots. */
  get ramBudget(): number | undefined { return this.num('ram-budget'); }
  set ramBudget(v: number | undefined) { this.setOrRemove('ram-budget', v); }
  /** Kernel shapes: auto (default), software or hardware (LoadOptions.kernels). */
  get kernels(): string { return this.getAttribute('kernels') ?? ''; }
  set kernels(v: string) { this.setOrRemove('kernels', v || undefined); }
  /** Where the model runs: auto (default), webgpu or wasm (LoadOptions.backend). */
  get backend(): string { return this.getAttribute('backend') ?? ''; }
  set backend(v: string) { this.setOrRemove('backend', v || undefined); }
  get systemPrompt(): string { return this.getAttribute('system-prompt') ?? ''; }
  set systemPrompt(v: string) { this.setOrRemove('system-prompt', v || undefined); }
  get maxTokens(): number | undefined { return this.num('max-tokens'); }
  set maxTokens(v: number | undefined) { this.setOrRemove('max-tokens', v); }
  get temperature(): number | undefined { return this.num('temperature'); }
  set temperature(v: number | undefined) { this.setOrRemove('temperature', v); }
  get topK(): number | undefined { return this.num('top-k'); }
  set topK(v: number | undefined) { this.setOrRemove('top-k', v); }
  get topP(): number | undefined { return this.num('top-p'); }
  set topP(v: number | undefined) { this.setOrRemove('top-p', v); }
  get minP(): number | undefined { return this.num('min-p'); }
  set minP(v: number | undefined) { this.setOrRemove('min-p', v); }
  get repeatPenalty(): number | undefined { return this.num('repeat-penalty'); }
  set repeatPenalty(v: number | undefined) { this.setOrRemove('repeat-penalty', v); }
  get seed(): number | undefined { return this.num('seed'); }
  set seed(v: number | undefined) { this.setOrRemove('seed', v); }
  /** The chat template's enable_thinking (Qwen3 and others); unset: the model's default. */
  get enableThinking(): boolean | undefined {
    const v = this.getAttribute('enable-thinking')?.trim();
    return v === 'true' ? true : v === 'false' ? false : undefined;
  }
  set enableThinking(v: boolean | undefined) { this.setOrRemove('enable-thinking', v === undefined ? undefined : String(v)); }
  get placeholder(): string { return this.getAttribute('placeholder') ?? PLACEHOLDER; }
  set placeholder(v: string) { this.setOrRemove('placeholder', v || undefined); }

  /** What the element is doing; also a custom state for CSS: webmoe-chat:state(generating). */
  get state(): ChatState { return this.current; }
  /** The loaded model, once ready. */
  get model(): ModelInfo | undefined { return this.llm?.model; }
  /** The conversation so far (user and assistant messages). */
  get messages(): readonly { role: string; content: string }[] { return this.conv?.messages ?? []; }

  private num(name: string): number | undefined {
    const v = this.getAttribute(name);
    return v === null || v.trim() === '' ? undefined : Number(v);
  }

  private setOrRemove(name: string, v: string | number | undefined): void {
    if (v === undefined) this.removeAttribute(name);
    else this.setAttribute(name, String(v));
  }

  // ---- lifecycle ----

  connectedCallback(): void {
    this.scheduleLoad();
  }

  disconnectedCallback(): void {
    this.turn?.abort();
    this.scheduleLoad(); // (which, disconnected, only lets the model go)
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (name === 'placeholder') this.ui.input.placeholder = value ?? PLACEHOLDER;
    else if (old !== value && this.isConnected) this.scheduleLoad();
  }

  // ---- methods ----

  /** Sends a user message and streams the answer; resolves with the result (rejects with the
   *  error, which is also shown and sent as webmoe-error). Waits for the model, and for the turn
   *  before. */
  send(text: string): Promise<GenerationResult> {
    const run = this.turns.then(() => this.runTurn(text));
    this.turns = run.catch(() => {});
    return run;
  }

  /** Stops the answer being generated (within one token); the text so far stays. */
  stop(): void {
    this.turn?.abort();
  }

  /** Forgets the conversation (and stops an answer being generated). */
  clear(): void {
    this.turn?.abort();
    this.conv?.clear();
    this.ui.list.replaceChildren();
    this.ui.note.textContent = '';
    this.ui.live.textContent = '';
    this.hideError();
  }

  // ---- loading ----

  /** One load for the attribute changes of one task (the parser sets them one by one). */
  private scheduleLoad(): void {
    if (this.reloadQueued) return;
    this.reloadQueued = true;
    this.loading = Promise.resolve().then(() => {
      this.reloadQueued = false;
      return this.load();
    });
  }

  private async load(): Promise<void> {
    const n = ++this.loads;
    this.turn?.abort(); // (the old model's worker unloads after it: requests run in order)
    this.lease?.release();
    this.lease = undefined;
    this.llm = undefined;
    if (!this.isConnected) {
      this.setState('idle');
      return;
    }
    this.hideError();
    this.setState('loading');
    this.ui.progress.hidden = false;
    this.ui.progress.removeAttribute('value');
    this.ui.download.textContent = 'Starting the engine';
    this.ui.engine.textContent = '';
    this.ui.notice.textContent = '';
    try {
      const expertBudget = megabytes('expert-budget', this.getAttribute('expert-budget'));
      const ramBudget = megabytes('ram-budget', this.getAttribute('ram-budget'));
      const kernels = kernelsAttribute(this.getAttribute('kernels'));
      const backend = backendAttribute(this.getAttribute('backend'));
      const src = this.src ? { url: new URL(this.src, document.baseURI).href } : await defaultModel();
      if (n !== this.loads) return;
      const lease = sharedModels.acquire({ ...src, expertBudget, ramBudget, kernels, backend }, (p) => { if (n === this.loads) this.showProgress(p); });
      this.lease = lease;
      const llm = await lease.model;
      if (n !== this.loads) return;
      this.llm = llm;
      if (this.convModel !== llm) {
        // another model: another conversation (an element moved in the page keeps its own)
        this.conv = llm.conversation();
        this.convModel = llm;
        this.ui.list.replaceChildren();
      }
      const m = llm.model;
      this.ui.progress.hidden = true;
      this.ui.download.textContent = `${m.name ?? 'Model'}: ${m.architecture}` +
        (m.nExpert ? `, ${m.nExpert} experts (${m.nExpertUsed} per token)` : '') + `, ${plural(m.nCtx, 'position')} of context. ` +
        `Ready on ${m.backend === 'wasm' ? 'the WASM CPU backend' : 'WebGPU'}.`;
      this.ui.download.title = m.backendReason; // why that backend (LoadOptions.backend)
      this.ui.engine.textContent = '';
      this.setState('ready');
      this.emit('webmoe-ready', m);
    } catch (e) {
      if (n !== this.loads) return;
      this.lease?.release();
      this.lease = undefined;
      this.ui.progress.hidden = true;
      this.ui.download.textContent = '';
      this.ui.engine.textContent = '';
      this.setState('error');
      this.showError(e);
    }
  }

  /** Download and engine steps overlap: one line each; the bar follows the download, then the engine. */
  private showProgress(p: LoadUpdate): void {
    if (p.type === 'notice') {
      // the last one that says why the load waits or what it left out; the rest as events only
      if (SHOWN_NOTICES.has(p.what)) this.ui.notice.textContent = p.message;
      this.emit('webmoe-notice', p);
      return;
    }
    const { text, fraction } = progressLine(p);
    (p.type === 'progress' ? this.ui.download : this.ui.engine).textContent = text;
    const downloading = p.type === 'progress' ? p.phase !== 'complete' : false;
    if (p.type === 'load' || downloading) {
      if (fraction === undefined) this.ui.progress.removeAttribute('value');
      else this.ui.progress.value = fraction;
    }
    this.emit('webmoe-progress', p);
  }

  // ---- turns ----

  private submit(): void {
    const text = this.ui.input.value;
    if (!text.trim() || this.current !== 'ready') return;
    this.ui.input.value = '';
    this.send(text).catch(() => {}); // shown inside, and sent as webmoe-error
  }

  private async runTurn(text: string): Promise<GenerationResult> {
    let answer: ReturnType<typeof message> | undefined;
    const ac = new AbortController();
    try {
      let load: Promise<void>;
      do await (load = this.loading); while (load !== this.loading); // the latest load, if attributes changed meanwhile
      const conv = this.conv;
      if (!this.llm || !conv) throw new Error(this.isConnected ? 'the model did not load (see the error above): fix the src attribute, or reload the page' : 'this <webmoe-chat> is not in the page');
      const thinking = thinkingAttribute(this.getAttribute('enable-thinking'));
      const opts = { ...samplingOptions((name) => this.getAttribute(name)), ...(thinking !== undefined && { enableThinking: thinking }) };
      this.hideError();
      this.ui.note.textContent = '';
      this.ui.live.textContent = '';
      conv.system = this.systemPrompt;
      const question = message('user', 'You');
      question.append(text);
      answer = message('assistant', this.llm.model.name ?? 'Model');
      answer.li.setAttribute('aria-busy', 'true');
      this.ui.list.append(question.li, answer.li);
      this.turn = ac;
      this.setState('generating');
      const gen = conv.send(text, { ...opts, signal: ac.signal });
      for await (const chunk of gen) {
        answer.append(chunk.text);
        this.scrollDown();
        this.emit('webmoe-token', chunk);
      }
      const r = await gen.result;
      if (answer.li.isConnected) { // (not cleared meanwhile)
        this.ui.live.textContent = splitReasoning(r.text).answer.trim() || '(no answer)';
        this.ui.note.textContent = this.describe(r);
      }
      this.emit('webmoe-done', r);
      return r;
    } catch (e) {
      this.showError(e);
      throw e;
    } finally {
      answer?.li.removeAttribute('aria-busy');
      if (this.turn === ac) this.turn = undefined;
      if (this.current === 'generating') this.setState('ready');
    }
  }

  /** What to say under an answer that did not simply end. */
  private describe(r: GenerationResult): string {
    const notes: string[] = [];
    if (r.droppedMessages > 0) notes.push(`The oldest ${plural(r.droppedMessages, 'message')} no longer fit in the model's context: the answer did not see them.`);
    if (r.stop === 'aborted') notes.push('Stopped.');
    else if (r.stop === 'max-tokens') notes.push(`Cut at ${plural(r.ids.length, 'token')} (max-tokens).`);
    else if (r.stop === 'context-full') notes.push("Cut: the model's context is full. Clear the conversation to go on.");
    return notes.join(' ');
  }

  private scrollDown(): void {
    const l = this.ui.list;
    l.scrollTop = l.scrollHeight;
  }

  // ---- state, errors, events ----

  private setState(s: ChatState): void {
    this.internals.states.delete(this.current);
    this.current = s;
    this.internals.states.add(s);
    this.ui.send.disabled = s !== 'ready';
    this.ui.stop.disabled = s !== 'generating';
    this.ui.list.setAttribute('aria-busy', String(s === 'generating'));
  }

  private showError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = 'code' in err && typeof err.code === 'string' ? ` [${err.code}]` : '';
    this.ui.error.textContent = `${err.name}${code}: ${err.message}`;
    this.ui.error.hidden = false;
    this.emit('webmoe-error', err);
  }

  private hideError(): void {
    this.ui.error.hidden = true;
    this.ui.error.textContent = '';
  }

  private emit<K extends keyof WebMoEChatEventMap>(type: K, detail: WebMoEChatEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}
