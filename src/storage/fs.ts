// Filesystem store (Node): a key is a path under `root`. A write goes to a temporary file that is
// renamed over the target, so a crash leaves the old value or the new one. Node only: the browser
// bundle must not import this file.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkKey, clip, StorageQuotaError, type ByteRange, type ByteStore, type StoreEstimate } from './store.ts';

const TMP = '.tmp-'; // prefix of files being written; never a key (checkKey allows it, list skips it)

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export function fsStore(root: string): ByteStore {
  const path = (key: string) => {
    checkKey(key);
    return join(root, ...key.split('/'));
  };

  const walk = async (dir: string, rel: string, out: { key: string; size: number }[]) => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    for (const d of entries) {
      const key = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(join(dir, d.name), key, out);
      else if (!d.name.startsWith(TMP)) out.push({ key, size: (await stat(join(dir, d.name))).size });
    }
  };

  return {
    kind: 'fs',
    read: async (key: string, range?: ByteRange) => {
      try {
        if (!range) return new Uint8Array(await readFile(path(key)));
        const fh = await open(path(key), 'r');
        try {
          const size = (await fh.stat()).size;
          const start = Math.min(size, range.offset);
          const out = new Uint8Array(Math.min(range.length, size - start));
          let got = 0;
          while (got < out.length) {
            const { bytesRead } = await fh.read(out, got, out.length - got, start + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          return clip(out, { offset: 0, length: got });
        } finally {
          await fh.close();
        }
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    write: async (key: string, bytes: Uint8Array) => {
      const file = path(key);
      const dir = join(file, '..');
      const tmp = join(dir, `${TMP}${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(tmp, bytes);
        await rename(tmp, file);
      } catch (e) {
        await rm(tmp, { force: true });
        if ((e as NodeJS.ErrnoException)?.code === 'ENOSPC') throw new StorageQuotaError(bytes.length, undefined, `disk full under ${root}`);
        throw e;
      }
    },
    has: async (key: string) => {
      try {
        return (await stat(path(key))).isFile();
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    },
    list: async (prefix = '') => {
      const out: { key: string; size: number }[] = [];
      await walk(root, '', out);
      return out.map((f) => f.key).filter((k) => k.startsWith(prefix)).sort();
    },
    delete: async (key: string) => {
      await rm(path(key), { force: true });
    },
    estimate: async (): Promise<StoreEstimate> => {
      const out: { key: string; size: number }[] = [];
      await walk(root, '', out);
      const usage = out.reduce((n, f) => n + f.size, 0);
      await mkdir(root, { recursive: true });
      const fs = await statfs(root);
      return { usage, quota: usage + fs.bavail * fs.bsize, persisted: true };
    },
    persist: async () => true,
  };
}
