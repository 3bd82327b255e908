// Kernel parameters: the WGSL file's `struct Params { ... }` is the one field list. The TypeScript
// packer is derived from it (parsed once per shader), so the two cannot drift: packing a field the
// struct lacks, or missing one it has, throws a KernelParamsError naming both lists.
//
// Only 4-byte scalars (u32, i32, f32) are allowed in Params: every field is one 32-bit word, so
// the byte offset of field i is 4*i and no WGSL alignment rules come into play.

export type ParamType = 'u32' | 'i32' | 'f32';

export interface ParamField {
  name: string;
  type: ParamType;
}

export class KernelParamsError extends Error {
  override name = 'KernelParamsError';
}

/** The fields of `struct <name> { ... }` in a WGSL source, in declaration order. */
export function parseStruct(wgsl: string, name = 'Params'): ParamField[] {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(stripComments(wgsl));
  if (!m) throw new KernelParamsError(`WGSL source has no struct ${name}`);
  const fields: ParamField[] = [];
  for (const part of m[1].split(',')) {
    const f = part.trim();
    if (!f) continue;
    const fm = /^(?:@\w+(?:\([^)]*\))?\s+)*(\w+)\s*:\s*([\w<>, ]+?)$/.exec(f);
    if (!fm) throw new KernelParamsError(`struct ${name}: cannot read field "${f}"`);
    const type = fm[2];
    if (type !== 'u32' && type !== 'i32' && type !== 'f32') {
      throw new KernelParamsError(`struct ${name}.${fm[1]} is ${type}; Params fields must be u32, i32 or f32 (one word each)`);
    }
    fields.push({ name: fm[1], type });
  }
  return fields;
}

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

/** Packs named values into the word layout of a Params struct. */
export class ParamsLayout {
  /** Size in bytes, rounded up to 16 (uniform buffer bindings want multiples of 16). */
  readonly byteSize: number;

  constructor(readonly fields: readonly ParamField[], readonly label = 'Params') {
    this.byteSize = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  }

  static fromWGSL(wgsl: string, label?: string): ParamsLayout {
    return new ParamsLayout(parseStruct(wgsl), label);
  }

  /** Writes `values` into `out` (a view of byteSize bytes) at word offset `at`. */
  pack(values: Readonly<Record<string, number>>, out = new ArrayBuffer(this.byteSize), at = 0): ArrayBuffer {
    const names = this.fields.map((f) => f.name);
    const extra = Object.keys(values).filter((k) => !names.includes(k));
    const missing = names.filter((k) => !(k in values));
    if (extra.length || missing.length) {
      throw new KernelParamsError(
        `${this.label}: values do not match struct Params (${names.join(', ')})` +
          (missing.length ? `; missing ${missing.join(', ')}` : '') +
          (extra.length ? `; unknown ${extra.join(', ')}` : ''),
      );
    }
    const u = new Uint32Array(out, at * 4, this.fields.length);
    const i = new Int32Array(out, at * 4, this.fields.length);
    const f = new Float32Array(out, at * 4, this.fields.length);
    this.fields.forEach((field, k) => {
      const v = values[field.name];
      if (!Number.isFinite(v)) throw new KernelParamsError(`${this.label}.${field.name} = ${v} is not a finite number`);
      if (field.type === 'f32') f[k] = v;
      else if (field.type === 'i32') {
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new KernelParamsError(`${this.label}.${field.name} = ${v} is not an i32`);
        i[k] = v;
      } else {
        if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new KernelParamsError(`${this.label}.${field.name} = ${v} is not a u32`);
        u[k] = v;
      }
    });
    return out;
  }
}
