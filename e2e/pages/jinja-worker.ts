// Module worker of e2e/pages/jinja.html: renders each job's template, and reports the CSP
// violations the worker saw (a module worker has its own policy, from its script's response).
import { renderChat, type ChatTemplateOptions, type ChatVocab, type RenderedChat } from '../../src/tokenizer/chat-template.ts';
import type { ChatMessage } from '../../src/tokenizer/chat.ts';

export interface JinjaJob {
  messages: ChatMessage[];
  template: string;
  vocab: ChatVocab;
  options?: ChatTemplateOptions;
}
export interface JinjaReply {
  rendered: RenderedChat[];
  violations: string[];
}

const violations: string[] = [];
self.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI || e.sample}`));

self.onmessage = (e: MessageEvent<JinjaJob[]>) => {
  const rendered = e.data.map((j) => renderChat(j.messages, j.template, j.vocab, j.options));
  self.postMessage({ rendered, violations } satisfies JinjaReply);
};
