// Thinking models (Qwen3, DeepSeek-R1 distills, QwQ) write their reasoning between <think> and
// </think> before the answer. A chat shows the two apart: the reasoning folded away, the answer as
// the reply. Some templates open the block in the prompt (the generation prompt ends with
// "<think>\n"), so the output holds only the closing tag. Works on the text so far, so it is called
// again as each chunk streams in; a tag cut between two chunks is held back, not shown.

export interface Reasoned {
  /** The text between the tags (trimmed); '' when the model did not think. */
  reasoning: string;
  /** The text after the closing tag, or all of it when there is no reasoning block. */
  answer: string;
  /** The reasoning block is still open: more reasoning may follow. */
  thinking: boolean;
}

const OPEN = '<think>';
const CLOSE = '</think>';

/** Splits a reply into its reasoning and its answer. `opened`: the prompt already opened the block. */
export function splitReasoning(text: string, opened = false): Reasoned {
  const lead = text.trimStart();
  if (lead && OPEN.startsWith(lead) && lead !== OPEN) return { reasoning: '', answer: '', thinking: false }; // "<thi": wait
  const tagged = lead.startsWith(OPEN);
  const body = tagged ? lead.slice(OPEN.length) : text;
  const end = body.indexOf(CLOSE);
  if (end >= 0 && (tagged || opened || !text.slice(0, end).includes(OPEN))) {
    return { reasoning: body.slice(0, end).trim(), answer: body.slice(end + CLOSE.length).trimStart(), thinking: false };
  }
  if (!tagged && !opened) return { reasoning: '', answer: text, thinking: false };
  return { reasoning: withoutPartialTag(body).trim(), answer: '', thinking: true };
}

/** `s` without a trailing beginning of the closing tag ("</thi"), which the next chunk may complete. */
function withoutPartialTag(s: string): string {
  for (let n = Math.min(CLOSE.length - 1, s.length); n > 0; n--) {
    if (CLOSE.startsWith(s.slice(-n))) return s.slice(0, -n);
  }
  return s;
}
