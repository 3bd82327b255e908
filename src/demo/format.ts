// Numbers for people: bytes, rates, durations, progress lines. Pure functions (tested in Node).
import type { LoadProgress } from '../client/webmoe.ts';

/** 4285472 → "4.29 MB" (SI units, as download sizes are usually given). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000, u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** Bytes per second → "3.10 MB/s". */
export function rate(bytesPerSecond: number): string {
  return `${bytes(bytesPerSecond)}/s`;
}

/** Seconds → "45 s", "3 min 20 s", "2 h 5 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Milliseconds → "850 ms" or "2.4 s". */
export function ms(t: number): string {
  return t < 1000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(1)} s`;
}

/** Tokens per second, or "–" when nothing was measured. */
export function tokS(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) || v <= 0 ? '–' : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} tok/s`;
}

const PHASES: Record<string, string> = {
  probe: 'Asking the server', header: 'Reading the header', resume: 'Checking stored chunks', download: 'Downloading',
  verify: 'Verifying SHA-256', complete: 'Stored', failed: 'Download failed', closed: 'Download stopped',
};

/** One line for the load progress, and the fraction done (undefined while unknown). */
export function progressLine(p: LoadProgress): { text: string; fraction?: number } {
  if (p.type === 'load') {
    switch (p.step) {
      case 'gpu': return { text: 'Looking for a WebGPU adapter' }; // opened for backend webgpu; auto may then take WASM
      case 'tokenizer': return { text: 'Loading the tokenizer' };
      case 'weights':
        if (p.backend === 'wasm') {
          return p.done < p.total
            ? { text: `Copying weights into the WebAssembly heap: ${bytes(p.done)} of ${bytes(p.total)}`, fraction: p.done / p.total }
            : { text: 'Weights in the WebAssembly heap', fraction: 1 };
        }
        return p.done < p.total
          ? { text: `Uploading weights to the GPU: ${bytes(p.done)} of ${bytes(p.total)}`, fraction: p.done / p.total }
          : { text: 'Building the GPU pipelines', fraction: 1 };
      case 'ready': return { text: 'Ready', fraction: 1 };
    }
  }
  const parts = [`${PHASES[p.phase] ?? p.phase}`];
  if (p.bytesTotal > 0) parts.push(`${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}`);
  if (p.phase === 'download' && p.rate > 0) parts.push(rate(p.rate));
  if (p.phase === 'download' && p.etaSeconds !== undefined && p.bytesDone < p.bytesTotal) parts.push(`${duration(p.etaSeconds)} left`);
  if (p.chunksResumed > 0) parts.push(`${p.chunksResumed} chunks were already stored`);
  if (p.retries > 0) parts.push(`${p.retries} retries`);
  return { text: parts.join(' · '), fraction: p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : undefined };
}

/** 1 → "1 token", 3 → "3 tokens". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Stop strings from a text field: one per line, with \n and \t written as escapes. */
export function parseStops(field: string): string[] {
  return field.split('\n').map((s) => s.replace(/\\n/g, '\n').replace(/\\t/g, '\t')).filter((s) => s.length > 0);
}
