// The page's side of the service worker (sw.ts): registers it, and says when a new version of the
// app shell is installed and waiting, so the page can offer a reload instead of switching versions
// under a running generation.
import type { PageToWorker } from './routing.ts';

export interface UpdateReady {
  /** Lets the waiting version take over, then reloads the page into it. Stored models stay:
   *  they are in IndexedDB, which no shell version touches. */
  apply(): void;
}

export interface RegisterOptions {
  /** The service worker's script; its folder is its scope. */
  url: string | URL;
  /** A new version is ready: one that was installed while this page ran, one that was already
   *  waiting when it opened, or one that another tab of the app let take over. */
  onUpdateReady(update: UpdateReady): void;
}

/** Registers the service worker; undefined where the browser has none (or refuses one, as some
 *  private modes do). The first install is not an update: it only makes the next visit work offline. */
export async function registerServiceWorker(opts: RegisterOptions): Promise<ServiceWorkerRegistration | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  const container = navigator.serviceWorker;
  const controlled = container.controller !== null;
  let asked = false;
  const offer = (waiting: ServiceWorker) => opts.onUpdateReady({
    apply: () => {
      asked = true;
      const msg: PageToWorker = { type: 'skip-waiting' };
      waiting.postMessage(msg);
    },
  });

  container.addEventListener('controllerchange', () => {
    if (asked) location.reload();
    // Another tab applied an update: this page still runs the old code.
    else if (controlled) opts.onUpdateReady({ apply: () => location.reload() });
  });
  const reg = await container.register(opts.url);
  if (reg.waiting && container.controller) offer(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const installing = reg.installing;
    installing?.addEventListener('statechange', () => {
      // Without a controller this is the first install, not an update.
      if (installing.state === 'installed' && container.controller) offer(installing);
    });
  });
  return reg;
}
