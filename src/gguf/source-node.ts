// Node-only sources: kept apart so the browser bundle never sees node:fs.
import { type FileHandle, open } from 'node:fs/promises';
import type { RangeSource } from './source.ts';

/** A source over a local file (Node only). */
export function fileSource(path: string): RangeSource {
  let handle: Promise<FileHandle> | undefined; // opened on first use, so a bad path fails there
  const file = () => (handle ??= open(path, 'r'));
  return {
    name: path,
    size: async () => (await (await file()).stat()).size,
    close: async () => {
      if (handle) await (await handle).close();
      handle = undefined;
    },
    read: async (offset, length) => {
      const fh = await file();
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return out.subarray(0, got);
    },
  };
}
