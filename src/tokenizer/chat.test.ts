// Chat templates against llama.cpp's own expectations: tests/test-chat-template.cpp in the
// llama.cpp source that node-llama-cpp ships lists real templates and the prompt its built-in
// formatter (llama_chat_apply_template, no Jinja) must produce for one conversation. Every case
// whose family we recognise must come out identical.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { llamaCppSource } from '../../tools/oracle/llama-src.ts';
import { chatFamily, formatChat, type ChatMessage } from './chat.ts';

// The conversation of test-chat-template.cpp's main_automated_tests().
const CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you' },
  { role: 'assistant', content: '   I am an assistant   ' },
  { role: 'user', content: 'Another question' },
];

/** The C++ string literal starting at src[i] (after optional u8 / U8C( prefixes): [value, end]. */
function cString(src: string, i: number): [string, number] {
  while (src[i] !== '"') i++;
  let out = '';
  for (i++; src[i] !== '"'; i++) {
    if (src[i] !== '\\') { out += src[i]; continue; }
    const c = src[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', "'": "'", '0': '\0' };
    if (c in simple) out += simple[c];
    else if (c === 'x') { out += String.fromCharCode(parseInt(src.slice(i + 1, i + 3), 16)); i += 2; }
    else if (c === 'u') { out += String.fromCharCode(parseInt(src.slice(i + 1, i + 5), 16)); i += 4; }
    else throw new Error(`unknown escape \\${c}`);
  }
  return [out, i + 1];
}

interface Case { name: string; template: string; expected: string }

function llamaCppCases(): Case[] {
  const src = readFileSync(join(llamaCppSource(), 'tests/test-chat-template.cpp'), 'utf8');
  const body = src.slice(src.indexOf('std::vector<TestCase> test_cases'));
  const starts = [...body.matchAll(/\/\* \.name= \*\//g)].map((m) => m.index!);
  const cases: Case[] = [];
  starts.forEach((s, k) => {
    const block = body.slice(s, starts[k + 1] ?? body.length);
    if (block.includes('.extra_conversation=')) return;  // tool-call turns: not part of these families
    const [name] = cString(block, 0);
    const [template] = cString(block, block.indexOf('.template_str='));
    const [expected] = cString(block, block.indexOf('.expected_output='));
    cases.push({ name, template, expected });
  });
  return cases;
}

test("llama.cpp's chat template cases", () => {
  const cases = llamaCppCases();
  expect(cases.length).toBeGreaterThan(20);
  const seen = new Set<string>();
  const failures: string[] = [];
  for (const c of cases) {
    const family = chatFamily(c.template);
    if (family === 'plain') continue;
    seen.add(family);
    const got = formatChat(CONVERSATION, family, true);
    if (got !== c.expected) failures.push(`${c.name} (${family}):\n  got      ${JSON.stringify(got)}\n  expected ${JSON.stringify(c.expected)}`);
  }
  expect(failures).toEqual([]);
  // Every family we implement but 'llama2-sys' (no case of its own there) is covered.
  expect([...seen].sort()).toEqual(['chatml', 'llama2', 'llama2-sys-bos', 'llama2-sys-strip', 'llama3',
    'mistral-v1', 'mistral-v3', 'mistral-v3-tekken', 'mistral-v7']);
});

test('real templates shipped with llama.cpp are recognised', () => {
  const dir = join(llamaCppSource(), 'models/templates');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  // Recognised by the markers llama.cpp looks for; formatting is checked by the cases above.
  expect(chatFamily(read('meta-llama-Llama-3.1-8B-Instruct.jinja'))).toBe('llama3');
  expect(chatFamily(read('Qwen-Qwen3-0.6B.jinja'))).toBe('chatml');
  expect(chatFamily(read('Qwen-Qwen2.5-7B-Instruct.jinja'))).toBe('chatml');
  expect(chatFamily(read('mistralai-Mistral-Nemo-Instruct-2407.jinja'))).not.toBe('plain');
  expect(chatFamily(undefined)).toBe('plain');
  expect(formatChat([{ role: 'user', content: 'Hi' }], 'plain')).toBe('User: Hi\nAssistant:');
});
