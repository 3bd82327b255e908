// The manifest of a stored model: which file it is (URL and identity), how it is cut into chunks,
// which chunks are complete, and whether the whole file is. Chunks carry their own checksums; the
// manifest's `done` list may lag a crash behind the chunk records (it is reconciled on open) but
// `complete` is only ever written after every chunk was stored (and the file's SHA-256 checked,
// when one was given).
import type { ByteStore } from './store.ts';
import { sha256, toHex } from './sha256.ts';

export const MANIFEST_FORMAT = 1;

/** What identifies one version of a remote file. */
export interface FileIdentity {
  /** Bytes. */
  size: number;
  etag?: string;
  lastModified?: string;
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  /** Store id of the model: derived from the URL (modelId). */
  id: string;
  url: string;
  /** general.name from the GGUF header, for listings. */
  name?: string;
  /** The file these chunks came from. */
  identity: FileIdentity;
  /** Whole-file SHA-256 (hex) the caller expects, if given. */
  sha256?: string;
  /** Whether the stored bytes were checked against `sha256`. */
  verified: boolean;
  /** Bytes of the GGUF header (the tensor data starts here). */
  headerBytes: number;
  /** End offset of each chunk (chunk i is [ends[i-1] ?? 0, ends[i])). */
  chunkEnds: number[];
  /** Kind of each chunk: 'h' header, 'd' dense, 'e' expert. */
  chunkKinds: string;
  /** Bitmap of complete chunks, base64. */
  done: string;
  complete: boolean;
  /** Random u32 stamped into every chunk record of this download (chunk.ts). */
  generation: number;
  /** ms since the epoch. */
  createdAt: number;
  updatedAt: number;
}

/** Store id of the model at `url`: the first 20 hex digits of the URL's SHA-256. */
export async function modelId(url: string): Promise<string> {
  return toHex(await sha256(new TextEncoder().encode(url))).slice(0, 20);
}

export const keys = {
  root: 'models/',
  prefix: (id: string) => `models/${id}/`,
  manifest: (id: string) => `models/${id}/manifest.json`,
  chunkPrefix: (id: string) => `models/${id}/chunks/`,
  chunk: (id: string, index: number) => `models/${id}/chunks/${String(index).padStart(6, '0')}`,
};

/** Chunk index from a chunk key, or undefined for another key. */
export function chunkIndexOf(key: string): number | undefined {
  const m = /\/chunks\/(\d+)$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

export function encodeBitmap(bits: boolean[]): string {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) bytes[i >> 3] |= 1 << (i & 7);
  });
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function decodeBitmap(b64: string, n: number): boolean[] {
  const s = atob(b64);
  return Array.from({ length: n }, (_, i) => (i >> 3 < s.length ? ((s.charCodeAt(i >> 3) >> (i & 7)) & 1) === 1 : false));
}

export async function loadManifest(store: ByteStore, id: string): Promise<ModelManifest | undefined> {
  const bytes = await store.read(keys.manifest(id));
  if (!bytes) return undefined;
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as ModelManifest;
    const ok = m.format === MANIFEST_FORMAT && m.id === id && typeof m.url === 'string' && Array.isArray(m.chunkEnds) &&
      m.chunkKinds.length === m.chunkEnds.length && m.chunkEnds.every((e, i) => e > (m.chunkEnds[i - 1] ?? 0)) &&
      m.chunkEnds[m.chunkEnds.length - 1] === m.identity.size;
    return ok ? m : undefined; // an unreadable manifest is treated as none: the model starts over
  } catch {
    return undefined;
  }
}

export async function saveManifest(store: ByteStore, m: ModelManifest): Promise<void> {
  await store.write(keys.manifest(m.id), new TextEncoder().encode(JSON.stringify(m)));
}
