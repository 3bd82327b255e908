import { describe, expect, it } from 'vitest';
import { route, type RouteRequest } from './routing.ts';

const SCOPE = 'https://example.test/app/';
const PRECACHED = new Set([
  'https://example.test/app/index.html',
  'https://example.test/app/assets/index-abc.js',
  'https://example.test/app/assets/tokenizer-def.wasm',
  'https://example.test/app/models/models.json',
]);

function req(url: string, over: Partial<RouteRequest> & { range?: boolean } = {}): RouteRequest {
  const { range, ...rest } = over;
  return { method: 'GET', url, mode: 'cors', headers: { has: (n) => range === true && n.toLowerCase() === 'range' }, ...rest };
}

describe('service worker routing', () => {
  it('answers precached files and navigations to the app from the precache', () => {
    expect(route(req('https://example.test/app/assets/index-abc.js'), SCOPE, PRECACHED)).toBe('precache');
    expect(route(req('https://example.test/app/assets/tokenizer-def.wasm'), SCOPE, PRECACHED)).toBe('precache');
    expect(route(req('https://example.test/app/models/models.json'), SCOPE, PRECACHED)).toBe('precache');
    expect(route(req('https://example.test/app/', { mode: 'navigate' }), SCOPE, PRECACHED)).toBe('shell');
    expect(route(req('https://example.test/app/?model=https://x.test/m.gguf&experts=40', { mode: 'navigate' }), SCOPE, PRECACHED)).toBe('shell');
    expect(route(req('https://example.test/app/index.html', { mode: 'navigate' }), SCOPE, PRECACHED)).toBe('shell');
  });

  it('leaves model files and every Range request to the network', () => {
    // The default model is under the scope, but it lives in IndexedDB, not in the precache.
    expect(route(req('https://example.test/app/models/webmoe-tiny-moe.q8_0.gguf'), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://example.test/app/models/x.GGUF', { range: true }), SCOPE, PRECACHED)).toBe('network');
    // Even a precached URL: a range of it is not what the cache holds.
    expect(route(req('https://example.test/app/assets/index-abc.js', { range: true }), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://huggingface.test/org/m/resolve/main/m.gguf', { range: true }), SCOPE, PRECACHED)).toBe('network');
  });

  it('leaves everything else alone: other methods, origins, paths, queries and navigations', () => {
    expect(route(req('https://example.test/app/assets/index-abc.js', { method: 'POST' }), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://other.test/app/assets/index-abc.js'), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://example.test/elsewhere/index.html', { mode: 'navigate' }), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://example.test/app/other.html', { mode: 'navigate' }), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://example.test/app/assets/index-abc.js?v=2'), SCOPE, PRECACHED)).toBe('network');
    expect(route(req('https://example.test/app/assets/missing.js'), SCOPE, PRECACHED)).toBe('network');
  });
});
