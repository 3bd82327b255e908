// The chat template cases of llama.cpp's tests/test-chat-template.cpp (in the source node-llama-cpp
// ships): real templates, one conversation, and the prompt llama.cpp must make of it with its
// built-in formatter (llama_chat_apply_template) and with its Jinja engine
// (common_chat_templates_apply, given the case's bos_token and eos_token).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { llamaCppSource } from './llama-src.ts';

export interface LlamaChatCase {
  name: string;
  template: string;
  /** llama_chat_apply_template's output. */
  expected: string;
  /** The Jinja engine's output ('' in the file: the same as `expected`). */
  expectedJinja: string;
  bosToken: string;
  eosToken: string;
  supportedWithJinja: boolean;
  /** Turns appended to CONVERSATION for this case (tool calls). */
  extra: { role: string; content: string }[];
}

/** The conversation of test-chat-template.cpp's main_automated_tests(). */
export const CONVERSATION = [
  { role: 'system', content: 'You are a helpful assistant' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you' },
  { role: 'assistant', content: '   I am an assistant   ' },
  { role: 'user', content: 'Another question' },
];

/** The C++ string literal starting at or after src[i] (after optional u8 / U8C( prefixes): [value, end]. */
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

export function llamaChatCases(): LlamaChatCase[] {
  const src = readFileSync(join(llamaCppSource(), 'tests/test-chat-template.cpp'), 'utf8');
  const body = src.slice(src.indexOf('std::vector<TestCase> test_cases'), src.indexOf('std::vector<char> formatted_chat'));
  const starts = [...body.matchAll(/\/\* \.name= \*\//g)].map((m) => m.index!);
  return starts.map((s, k) => {
    const block = body.slice(s, starts[k + 1] ?? body.length);
    const field = (name: string, fallback = '') => {
      const at = block.indexOf(`.${name}=`);
      return at < 0 ? fallback : cString(block, at)[0];
    };
    const extra: { role: string; content: string }[] = [];
    const at = block.indexOf('.extra_conversation=');
    if (at >= 0) {
      const end = block.indexOf('\n', at); // one line; its contents hold braces of their own
      for (let i = block.indexOf('{{', at); i >= 0 && i < end;) {
        const [role, j] = cString(block, i);
        const [content, k2] = cString(block, j);
        extra.push({ role, content });
        const next = block.indexOf('}, {"', k2);
        i = next >= 0 && next < end ? next : -1;
      }
    }
    return {
      name: cString(block, 0)[0],
      template: cString(block, block.indexOf('.template_str'))[0],
      expected: field('expected_output'),
      expectedJinja: field('expected_output_jinja'),
      bosToken: field('bos_token'),
      eosToken: field('eos_token'),
      supportedWithJinja: !/\.supported_with_jinja= \*\/ false/.test(block),
      extra,
    };
  });
}
