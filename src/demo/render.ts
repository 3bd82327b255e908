// DOM output for the demo. Generated text, model names, URLs and error messages are untrusted: they
// only ever become text nodes (textContent, createTextNode), never HTML.

/** Empties `el` and returns a function that appends streamed text to it as one text node. */
export function textStream(el: HTMLElement): (text: string) => void {
  const node = document.createTextNode('');
  el.replaceChildren(node);
  return (text) => node.appendData(text);
}

/** An element with text content and optional attributes (never innerHTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, text?: string, attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** Replaces a <dl>'s rows with term/value pairs. */
export function fillList(dl: HTMLElement, rows: [string, string][]): void {
  dl.replaceChildren(...rows.flatMap(([t, v]) => [h('dt', t), h('dd', v)]));
}

/** The element with this id, of the expected type; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`index.html lacks a <${type.name}> with id "${id}"`);
  return el;
}
