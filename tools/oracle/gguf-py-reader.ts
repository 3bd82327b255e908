// gguf-py's GGUFReader (llama.cpp's own Python reader, not written here) as a test oracle: what it
// reads from GGUF files, as JSON. Integers travel as decimal strings (u64 values exceed 2^53) and
// floats as Python's repr, so nothing is rounded on the way.
import { type GGUFFile, type GGUFScalar, GGUFValueType, typeName } from '../../src/gguf/types.ts';
import { ggufPy } from './llama-src.ts';

export interface PyField {
  key: string;
  type: number;        // GGUFValueType of the entry
  itemType?: number;   // element type of an array
  value: string | boolean | (string | boolean)[]; // numbers as decimal text, strings as they are
  badUtf8?: true;      // a string value gguf-py could not decode (value is then null)
}

export interface PyTensor {
  name: string;
  type: number;        // GGMLQuantizationType value
  typeName: string;    // its name in gguf-py (Q4_K, F32, ...)
  shape: string[];     // innermost first, as stored
  nElements: string;
  nBytes: string;
  dataOffset: string;  // absolute byte offset in the file
}

export interface PyGGUF {
  path: string;
  version: number;
  tensorCount: string;
  kvCount: string;
  alignment: number;
  dataOffset: number;  // absolute offset of the tensor data section
  fileBytes: number;
  fields: PyField[];   // without gguf-py's pseudo-fields GGUF.version/tensor_count/kv_count
  tensors: PyTensor[];
}

const SCRIPT = `
import json, os
from gguf import GGUFReader, GGUFValueType as V
def scalar(t, v):
    if t == V.STRING: return v
    if t == V.BOOL: return bool(v)
    if t in (V.FLOAT32, V.FLOAT64): return repr(float(v))
    return str(int(v))
def read(path):
    r = GGUFReader(path)
    fields = []
    for k, f in r.fields.items():
        if k.startswith('GGUF.'): continue
        t = f.types[0]
        try:
            c = f.contents()
        except UnicodeDecodeError:
            # A string value that is not UTF-8 (llama.cpp itself keeps the bytes as they are).
            fields.append({'key': k, 'type': int(t), 'badUtf8': True, 'value': None})
            continue
        if t == V.ARRAY:
            it = f.types[-1] if len(f.types) > 1 else None
            fields.append({'key': k, 'type': int(t), 'itemType': int(it) if it is not None else None,
                           'value': [scalar(it, x) for x in c]})
        else:
            fields.append({'key': k, 'type': int(t), 'value': scalar(t, c)})
    return {
        'path': path, 'version': int(r.fields['GGUF.version'].contents()),
        'tensorCount': str(int(r.fields['GGUF.tensor_count'].contents())),
        'kvCount': str(int(r.fields['GGUF.kv_count'].contents())),
        'alignment': int(r.alignment), 'dataOffset': int(r.data_offset), 'fileBytes': os.path.getsize(path),
        'fields': fields,
        'tensors': [{'name': t.name, 'type': int(t.tensor_type), 'typeName': t.tensor_type.name,
                     'shape': [str(int(d)) for d in t.shape], 'nElements': str(int(t.n_elements)),
                     'nBytes': str(int(t.n_bytes)), 'dataOffset': str(int(t.data_offset))} for t in r.tensors],
    }
req = json.loads(sys.stdin.read())
out = []
for path in req['paths']:
    if not req['tolerant']:
        out.append(read(path))
        continue
    try:
        out.append(read(path))
    except Exception as e:
        out.append({'path': path, 'error': type(e).__name__ + ': ' + str(e)[:200]})
sys.stdout.write(json.dumps(out))
`;

/** Reads every file with gguf-py in one Python process (a few hundred ms of start-up, once). */
export function pyReadGGUF(paths: string[]): PyGGUF[] {
  const out = ggufPy(SCRIPT, new TextEncoder().encode(JSON.stringify({ paths, tolerant: false })));
  return JSON.parse(out.toString('utf8')) as PyGGUF[];
}

/** As pyReadGGUF, but a file gguf-py refuses gives its exception instead of failing them all. */
export function pyTryReadGGUF(paths: string[]): (PyGGUF | { path: string; error: string })[] {
  const out = ggufPy(SCRIPT, new TextEncoder().encode(JSON.stringify({ paths, tolerant: true })));
  return JSON.parse(out.toString('utf8')) as (PyGGUF | { path: string; error: string })[];
}

// ---- comparing our reading with gguf-py's ------------------------------------------------------

const FLOAT_TYPES = new Set([GGUFValueType.FLOAT32, GGUFValueType.FLOAT64]);

/** Our scalar in gguf-py's JSON encoding: integers as decimal text, floats as numbers. */
function ourScalar(type: GGUFValueType, v: GGUFScalar): string | boolean | number {
  if (type === GGUFValueType.STRING || type === GGUFValueType.BOOL) return v as string | boolean;
  if (FLOAT_TYPES.has(type)) return v as number;
  return (typeof v === 'bigint' ? v : BigInt(v as number)).toString();
}

/** gguf-py's scalar: floats from Python's repr ('nan', 'inf' included), the rest as sent. */
function pyScalar(type: GGUFValueType, v: string | boolean): string | boolean | number {
  if (!FLOAT_TYPES.has(type)) return v;
  const s = String(v);
  return s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
}

const same = (a: unknown, b: unknown) => Object.is(a, b);

/** Every difference between our reading of a file and gguf-py's, as readable lines (none = agree). */
export function diffAgainstPy(g: GGUFFile, p: PyGGUF): string[] {
  const d: string[] = [];
  const check = (what: string, ours: unknown, theirs: unknown) => {
    if (!same(ours, theirs)) d.push(`${what}: ours ${String(ours)}, gguf-py ${String(theirs)}`);
  };
  check('version', g.version, p.version);
  check('alignment', g.alignment, p.alignment);
  check('data offset', g.dataOffset, p.dataOffset);
  check('tensor count', String(g.tensors.length), p.tensorCount);
  check('kv count', String(g.metadata.size), p.kvCount);
  const keys = [...g.metadata.keys()];
  check('metadata keys', keys.join('|'), p.fields.map((f) => f.key).join('|'));
  for (const f of p.fields) {
    const e = g.metadata.get(f.key);
    if (!e) continue; // reported by the key list above
    check(`type of ${f.key}`, e.type, f.type);
    if (f.badUtf8) {
      // gguf-py cannot decode it; we decode leniently, so the bad bytes show as U+FFFD.
      const vals = Array.isArray(e.value) ? e.value : [e.value];
      if (!vals.some((v) => typeof v === 'string' && v.includes('\uFFFD'))) d.push(`${f.key}: gguf-py found bad UTF-8, we did not`);
      continue;
    }
    if (f.type === GGUFValueType.ARRAY) {
      check(`item type of ${f.key}`, e.itemType, f.itemType);
      const it = f.itemType as GGUFValueType;
      const ours = (e.value as GGUFScalar[]).map((v) => ourScalar(it, v));
      const theirs = (f.value as (string | boolean)[]).map((v) => pyScalar(it, v));
      check(`length of ${f.key}`, ours.length, theirs.length);
      const k = ours.findIndex((v, i) => !same(v, theirs[i]));
      if (k >= 0) d.push(`${f.key}[${k}]: ours ${String(ours[k])}, gguf-py ${String(theirs[k])}`);
    } else {
      check(`value of ${f.key}`, ourScalar(e.type, e.value as GGUFScalar), pyScalar(f.type, f.value as string | boolean));
    }
  }
  check('tensor names', g.tensors.map((t) => t.name).join('|'), p.tensors.map((t) => t.name).join('|'));
  g.tensors.forEach((t, k) => {
    const pt = p.tensors[k];
    if (!pt) return;
    check(`shape of ${t.name}`, t.shape.join(','), pt.shape.join(','));
    check(`type of ${t.name}`, t.type, pt.type);
    check(`type name of ${t.name}`, typeName(t.type), pt.typeName);
    check(`elements of ${t.name}`, String(t.nElements), pt.nElements);
    check(`bytes of ${t.name}`, String(t.nBytes), pt.nBytes);
    check(`offset of ${t.name}`, String(g.dataOffset + t.offset), pt.dataOffset);
  });
  return d;
}
