// Chat templates against llama.cpp's own expectations: tests/test-chat-template.cpp in the
// llama.cpp source that node-llama-cpp ships lists real templates and the prompt its built-in
// formatter (llama_chat_apply_template, no Jinja) must produce for one conversation. Every case
// whose family we recognise must come out identical.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { CONVERSATION, llamaChatCases } from '../../tools/oracle/llama-chat-cases.ts';
import { llamaCppSource } from '../../tools/oracle/llama-src.ts';
import { chatFamily, formatChat } from './chat.ts';

const llamaCppCases = () => llamaChatCases().filter((c) => c.extra.length === 0); // tool-call turns: not part of these families

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
