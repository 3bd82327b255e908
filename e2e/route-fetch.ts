// route.fetch() for the specs that rewrite the dev server's responses (headers, byte counts).
// Node's HTTP client may reuse a keep-alive socket at the moment the server closes it, and the
// request then fails with "socket hang up (ECONNRESET)" before the server saw it; a browser
// retries such an idempotent request on its own, route.fetch() does not (seen once in CI: the
// worker's module import failed and the page never loaded). Retried here, up to twice, for that
// error only.
import type { APIResponse, Route } from '@playwright/test';

export async function fetchRetry(route: Route): Promise<APIResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await route.fetch();
    } catch (e) {
      if (attempt >= 2 || !/ECONNRESET|socket hang up/.test(String(e))) throw e;
    }
  }
}
