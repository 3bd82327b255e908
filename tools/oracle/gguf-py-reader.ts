// gguf-py's GGUFReader (llama.cpp's own Python reader, not written here) as a test oracle: what it
// reads from GGUF files, as JSON. Integers travel as decimal strings (u64 values exceed 2^53) and
// floats as Python's repr, so nothing is rounded on the way.
import { ggufPy } from './llama-src.ts';

export interface PyField {
  key: string;
  type: number;        // GGUFValueType of the entry
  itemType?: number;   // element type of an array
  value: string | boolean | (string | boolean)[]; // numbers as decimal text, strings as they are
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
out = []
for path in json.loads(sys.stdin.read()):
    r = GGUFReader(path)
    fields = []
    for k, f in r.fields.items():
        if k.startswith('GGUF.'): continue
        t = f.types[0]
        c = f.contents()
        if t == V.ARRAY:
            it = f.types[-1] if len(f.types) > 1 else None
            fields.append({'key': k, 'type': int(t), 'itemType': int(it) if it is not None else None,
                           'value': [scalar(it, x) for x in c]})
        else:
            fields.append({'key': k, 'type': int(t), 'value': scalar(t, c)})
    out.append({
        'path': path, 'version': int(r.fields['GGUF.version'].contents()),
        'tensorCount': str(int(r.fields['GGUF.tensor_count'].contents())),
        'kvCount': str(int(r.fields['GGUF.kv_count'].contents())),
        'alignment': int(r.alignment), 'dataOffset': int(r.data_offset), 'fileBytes': os.path.getsize(path),
        'fields': fields,
        'tensors': [{'name': t.name, 'type': int(t.tensor_type), 'typeName': t.tensor_type.name,
                     'shape': [str(int(d)) for d in t.shape], 'nElements': str(int(t.n_elements)),
                     'nBytes': str(int(t.n_bytes)), 'dataOffset': str(int(t.data_offset))} for t in r.tensors],
    })
sys.stdout.write(json.dumps(out))
`;

/** Reads every file with gguf-py in one Python process (a few hundred ms of start-up, once). */
export function pyReadGGUF(paths: string[]): PyGGUF[] {
  const out = ggufPy(SCRIPT, new TextEncoder().encode(JSON.stringify(paths)));
  return JSON.parse(out.toString('utf8')) as PyGGUF[];
}
