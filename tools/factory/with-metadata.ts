// A GGUF file written again with metadata entries added or replaced (the tensors as they were):
// e.g. a factory or the default model given a tokenizer.chat_template.
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import type { GGUFEntry } from '../../src/gguf/types.ts';
import { writeGGUF } from '../../src/gguf/writer.ts';

export async function withMetadata(bytes: Uint8Array, edits: Record<string, GGUFEntry>): Promise<Uint8Array> {
  const g = await readGGUF(bytesSource(bytes));
  const metadata = new Map(g.metadata);
  metadata.delete('general.alignment'); // writeGGUF writes it from its options
  for (const [k, v] of Object.entries(edits)) metadata.set(k, v);
  const tensors = g.tensors.map((t) => ({
    name: t.name, shape: t.shape, type: t.type,
    data: bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.nBytes),
  }));
  return writeGGUF(metadata, tensors, { version: g.version === 2 ? 2 : 3, alignment: g.alignment });
}
