// Stored models: list them with their sizes, delete them. Works on any ByteStore.
import { chunkIndexOf, decodeBitmap, keys, loadManifest, modelId } from './manifest.ts';
import type { ByteStore } from './store.ts';

export interface StoredModel {
  id: string;
  /** Undefined for leftovers whose manifest is gone (delete them). */
  url?: string;
  name?: string;
  /** Bytes of the whole file. */
  size?: number;
  /** Bytes of the file stored (complete chunks listed in the manifest). */
  storedBytes: number;
  chunksStored: number;
  chunksTotal?: number;
  complete: boolean;
  /** The whole file matched the SHA-256 given when it was opened. */
  verified: boolean;
  /** ms since the epoch. */
  updatedAt?: number;
}

/** Every model in the store, complete or not, largest first. */
export async function listModels(store: ByteStore): Promise<StoredModel[]> {
  const byId = new Map<string, number[]>();
  for (const key of await store.list(keys.root)) {
    const id = key.slice(keys.root.length).split('/')[0];
    const list = byId.get(id) ?? [];
    const i = chunkIndexOf(key);
    if (i !== undefined) list.push(i);
    byId.set(id, list);
  }
  const out: StoredModel[] = [];
  for (const [id, present] of byId) {
    const m = await loadManifest(store, id);
    if (!m) {
      out.push({ id, storedBytes: 0, chunksStored: present.length, complete: false, verified: false });
      continue;
    }
    const done = decodeBitmap(m.done, m.chunkEnds.length);
    const have = new Set(present);
    let storedBytes = 0, chunksStored = 0;
    m.chunkEnds.forEach((end, i) => {
      if (done[i] && have.has(i)) {
        storedBytes += end - (m.chunkEnds[i - 1] ?? 0);
        chunksStored++;
      }
    });
    out.push({
      id, url: m.url, name: m.name, size: m.identity.size, storedBytes, chunksStored, chunksTotal: m.chunkEnds.length,
      complete: m.complete, verified: m.verified, updatedAt: m.updatedAt,
    });
  }
  return out.sort((a, b) => b.storedBytes - a.storedBytes);
}

/** A model's id, given its id or the URL it was opened with. */
export const idOf = async (idOrUrl: string) => (/^[0-9a-f]{20}$/.test(idOrUrl) ? idOrUrl : modelId(idOrUrl));

/** Deletes a model (by id, or by the URL it was opened with): the manifest first, so an interrupted
 *  delete leaves no model that looks complete, then its chunks. Returns the keys removed. */
export async function deleteModel(store: ByteStore, idOrUrl: string): Promise<number> {
  const id = await idOf(idOrUrl);
  await store.delete(keys.manifest(id));
  const rest = await store.list(keys.prefix(id));
  for (const key of rest) await store.delete(key);
  return rest.length + 1;
}
