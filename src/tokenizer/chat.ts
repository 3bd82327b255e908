// The built-in chat formats, the fallback for a tokenizer.chat_template that the Jinja engine of
// chat-template.ts cannot render (or that is absent): the family is recognised from the template
// by the markers llama.cpp looks for (llm_chat_detect_template) and the conversation is formatted
// as llama.cpp's built-in formatter does (llm_chat_apply_template), so the prompt equals what
// llama.cpp builds for the same model without Jinja. The result is text with special tokens
// written out: tokenize it with { addSpecial: true, parseSpecial: true } (BOS comes from the
// tokenizer, not from the template).

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export type ChatFamily =
  | 'chatml'                 // Qwen, OLMoE-Instruct, many others: <|im_start|>role\n...<|im_end|>
  | 'llama3'                 // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  | 'mistral-v1' | 'mistral-v3' | 'mistral-v3-tekken' | 'mistral-v7'  // Mistral/Mixtral [INST]
  | 'llama2' | 'llama2-sys' | 'llama2-sys-bos' | 'llama2-sys-strip'     // Llama 2 [INST] variants
  | 'plain';                 // no template, or one not recognised: "User: ...\nAssistant:"

/** The family of a chat template (plain when absent or not recognised). */
export function chatFamily(template: string | undefined): ChatFamily {
  if (!template) return 'plain';
  const has = (s: string) => template.includes(s);
  if (has('<|im_start|>')) {
    // Phi-4 (<|im_sep|>) and SmolVLM (<end_of_utterance>) look like ChatML but are not.
    return has('<|im_sep|>') || has('<end_of_utterance>') ? 'plain' : 'chatml';
  }
  if (template.startsWith('mistral') || has('[INST]')) {
    if (has('[SYSTEM_PROMPT]')) return 'mistral-v7';
    if (has("' [INST] ' + system_message") || has('[AVAILABLE_TOOLS]')) {
      if (has(' [INST]')) return 'mistral-v1';
      if (has('"[INST]"')) return 'mistral-v3-tekken';
      return 'mistral-v3';
    }
    if (has('content.strip()')) return 'llama2-sys-strip';
    if (has("bos_token + '[INST]")) return 'llama2-sys-bos';
    if (has('<<SYS>>')) return 'llama2-sys';
    return 'llama2';
  }
  if (has('<|start_header_id|>') && has('<|end_header_id|>')) return 'llama3';
  return 'plain';
}

// Python's str.strip() on whitespace, as llama.cpp's trim().
const trim = (s: string) => s.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, '');

/** The prompt text for a conversation; `addGenerationPrompt` opens the assistant's turn. */
export function formatChat(messages: ChatMessage[], family: ChatFamily, addGenerationPrompt = true): string {
  let out = '';
  switch (family) {
    case 'chatml':
      for (const m of messages) out += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
      if (addGenerationPrompt) out += '<|im_start|>assistant\n';
      return out;
    case 'llama3':
      for (const m of messages) out += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${trim(m.content)}<|eot_id|>`;
      if (addGenerationPrompt) out += '<|start_header_id|>assistant<|end_header_id|>\n\n';
      return out;
    case 'mistral-v7':
      for (const m of messages) {
        if (m.role === 'system') out += `[SYSTEM_PROMPT] ${m.content}[/SYSTEM_PROMPT]`;
        else if (m.role === 'user') out += `[INST] ${m.content}[/INST]`;
        else out += ` ${m.content}</s>`;
      }
      return out;
    case 'mistral-v1':
    case 'mistral-v3':
    case 'mistral-v3-tekken': {
      const lead = family === 'mistral-v1' ? ' ' : '';
      const trail = family === 'mistral-v3-tekken' ? '' : ' ';
      let inTurn = false;
      for (const m of messages) {
        if (!inTurn) { out += `${lead}[INST]${trail}`; inTurn = true; }
        if (m.role === 'system') out += `${m.content}\n\n`;
        else if (m.role === 'user') out += `${m.content}${lead}[/INST]`;
        else { out += `${trail}${family === 'mistral-v3' ? trim(m.content) : m.content}</s>`; inTurn = false; }
      }
      return out;
    }
    case 'llama2':
    case 'llama2-sys':
    case 'llama2-sys-bos':
    case 'llama2-sys-strip': {
      const sys = family !== 'llama2', bosInside = family === 'llama2-sys-bos', strip = family === 'llama2-sys-strip';
      let inTurn = true;  // the first "[INST] " is written up front; BOS comes from the tokenizer
      out = '[INST] ';
      for (const m of messages) {
        const content = strip ? trim(m.content) : m.content;
        if (!inTurn) { inTurn = true; out += bosInside ? '<s>[INST] ' : '[INST] '; }
        if (m.role === 'system') out += sys ? `<<SYS>>\n${content}\n<</SYS>>\n\n` : `${content}\n`;
        else if (m.role === 'user') out += `${content} [/INST]`;
        else { out += `${content}</s>`; inTurn = false; }
      }
      return out;
    }
    case 'plain': {
      const name = (r: string) => r.charAt(0).toUpperCase() + r.slice(1);
      for (const m of messages) out += `${name(m.role)}: ${m.content}\n`;
      if (addGenerationPrompt) out += 'Assistant:';
      return out;
    }
  }
}

/** Formats a conversation with the family of `template` (tokenizer.chat_template). */
export function applyChatTemplate(messages: ChatMessage[], template: string | undefined, addGenerationPrompt = true): string {
  return formatChat(messages, chatFamily(template), addGenerationPrompt);
}
