import { describe, expect, it } from 'vitest';
import { splitReasoning } from './reasoning.ts';

describe('splitReasoning', () => {
  it('a reply that thinks first: the reasoning apart, the answer after the closing tag', () => {
    expect(splitReasoning('<think>\nThe user greets me.\n</think>\n\nHello!')).toEqual({ reasoning: 'The user greets me.', answer: 'Hello!', thinking: false });
    // Qwen3 with enable_thinking false: the template writes an empty block into the prompt, or the model does
    expect(splitReasoning('<think>\n\n</think>\n\nHi.')).toEqual({ reasoning: '', answer: 'Hi.', thinking: false });
  });

  it('while streaming: the reasoning so far, never a half-received closing tag, no answer yet', () => {
    const full = '<think>Two plus two is four.</think>4';
    const seen = Array.from({ length: full.length + 1 }, (_, n) => splitReasoning(full.slice(0, n)));
    for (const r of seen) {
      expect(r.reasoning + r.answer).not.toContain('<');
      expect('Two plus two is four.'.startsWith(r.reasoning)).toBe(true);
    }
    expect(splitReasoning('<think>Two plus two</th')).toEqual({ reasoning: 'Two plus two', answer: '', thinking: true });
    expect(splitReasoning('<think>a < b')).toEqual({ reasoning: 'a < b', answer: '', thinking: true });
    expect(seen.at(-1)).toEqual({ reasoning: 'Two plus two is four.', answer: '4', thinking: false });
  });

  it('a template that opened the block in the prompt: only the closing tag comes', () => {
    expect(splitReasoning('Let me see.', true)).toEqual({ reasoning: 'Let me see.', answer: '', thinking: true });
    expect(splitReasoning('Let me see.\n</think>\nYes.', true)).toEqual({ reasoning: 'Let me see.', answer: 'Yes.', thinking: false });
    // not told: shown as the answer until the closing tag shows it was reasoning
    expect(splitReasoning('Let me see.')).toEqual({ reasoning: '', answer: 'Let me see.', thinking: false });
    expect(splitReasoning('Let me see.\n</think>\nYes.')).toEqual({ reasoning: 'Let me see.', answer: 'Yes.', thinking: false });
  });

  it('tags that are part of the answer stay in it', () => {
    const text = 'Wrap it as <think>x</think> in the prompt.';
    expect(splitReasoning(text)).toEqual({ reasoning: '', answer: text, thinking: false });
    expect(splitReasoning('No reasoning here.')).toEqual({ reasoning: '', answer: 'No reasoning here.', thinking: false });
  });
});
