// GGML tensor types and GGUF metadata value types, as numbered in ggml.h / gguf.h.
// A GGML tensor is stored as blocks: `blockSize` elements packed in `typeSize` bytes.

export enum GGMLType {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

export interface TypeTraits {
  blockSize: number; // elements per block
  typeSize: number;  // bytes per block
}

/** Elements in a K-quant super-block. */
export const QK_K = 256;

// Sizes from ggml-common.h; a type missing here is one this reader does not know at all.
export const TYPE_TRAITS: Partial<Record<GGMLType, TypeTraits>> = {
  [GGMLType.F32]: { blockSize: 1, typeSize: 4 },
  [GGMLType.F16]: { blockSize: 1, typeSize: 2 },
  [GGMLType.BF16]: { blockSize: 1, typeSize: 2 },
  [GGMLType.F64]: { blockSize: 1, typeSize: 8 },
  [GGMLType.I8]: { blockSize: 1, typeSize: 1 },
  [GGMLType.I16]: { blockSize: 1, typeSize: 2 },
  [GGMLType.I32]: { blockSize: 1, typeSize: 4 },
  [GGMLType.I64]: { blockSize: 1, typeSize: 8 },
  [GGMLType.Q4_0]: { blockSize: 32, typeSize: 2 + 16 },
  [GGMLType.Q4_1]: { blockSize: 32, typeSize: 4 + 16 },
  [GGMLType.Q5_0]: { blockSize: 32, typeSize: 2 + 4 + 16 },
  [GGMLType.Q5_1]: { blockSize: 32, typeSize: 4 + 4 + 16 },
  [GGMLType.Q8_0]: { blockSize: 32, typeSize: 2 + 32 },
  [GGMLType.Q8_1]: { blockSize: 32, typeSize: 4 + 32 },
  [GGMLType.Q2_K]: { blockSize: QK_K, typeSize: 16 + 64 + 4 },
  [GGMLType.Q3_K]: { blockSize: QK_K, typeSize: 32 + 64 + 12 + 2 },
  [GGMLType.Q4_K]: { blockSize: QK_K, typeSize: 4 + 12 + 128 },
  [GGMLType.Q5_K]: { blockSize: QK_K, typeSize: 4 + 12 + 32 + 128 },
  [GGMLType.Q6_K]: { blockSize: QK_K, typeSize: 128 + 64 + 16 + 2 },
  [GGMLType.Q8_K]: { blockSize: QK_K, typeSize: 4 + 256 + 32 },
  [GGMLType.IQ2_XXS]: { blockSize: QK_K, typeSize: 2 + 64 },
  [GGMLType.IQ2_XS]: { blockSize: QK_K, typeSize: 2 + 64 + 8 },
  [GGMLType.IQ3_XXS]: { blockSize: QK_K, typeSize: 2 + 96 },
  [GGMLType.IQ1_S]: { blockSize: QK_K, typeSize: 2 + 32 + 16 },
  [GGMLType.IQ4_NL]: { blockSize: 32, typeSize: 2 + 16 },
  [GGMLType.IQ3_S]: { blockSize: QK_K, typeSize: 2 + 64 + 32 + 8 + 4 },
  [GGMLType.IQ2_S]: { blockSize: QK_K, typeSize: 2 + 64 + 16 },
  [GGMLType.IQ4_XS]: { blockSize: QK_K, typeSize: 2 + 2 + 4 + 128 },
  [GGMLType.IQ1_M]: { blockSize: QK_K, typeSize: 32 + 16 + 8 },
  [GGMLType.TQ1_0]: { blockSize: QK_K, typeSize: 2 + 4 + 48 },
  [GGMLType.TQ2_0]: { blockSize: QK_K, typeSize: 2 + 64 },
  [GGMLType.MXFP4]: { blockSize: 32, typeSize: 1 + 16 },
};

export function typeName(type: number): string {
  return GGMLType[type] ?? `unknown type ${type}`;
}

/** Bytes of a tensor of `nElements` elements of `type`; null when the type is unknown or
 *  nElements is not a whole number of blocks. */
export function tensorBytes(type: number, nElements: number): number | null {
  const t = TYPE_TRAITS[type as GGMLType];
  if (!t || nElements % t.blockSize !== 0) return null;
  return (nElements / t.blockSize) * t.typeSize;
}

export enum GGUFValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/** A metadata value as read: numbers (u64/i64 as bigint), strings, booleans, or arrays of them. */
export type GGUFScalar = number | bigint | boolean | string;
export type GGUFValue = GGUFScalar | GGUFScalar[];

/** A metadata entry with its stored type, so a file can be re-written exactly. */
export interface GGUFEntry {
  type: GGUFValueType;
  /** Element type when `type` is ARRAY. */
  itemType?: GGUFValueType;
  value: GGUFValue;
}

export interface GGUFTensorInfo {
  name: string;
  /** Dimensions, innermost (contiguous) first, as GGUF stores them: ne[0], ne[1], ... */
  shape: number[];
  type: GGMLType;
  /** Offset of the data in bytes from the start of the tensor data section. */
  offset: number;
  nElements: number;
  nBytes: number;
}

export interface GGUFFile {
  version: number;
  metadata: Map<string, GGUFEntry>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** Absolute byte offset of the tensor data section in the file. */
  dataOffset: number;
  /** Bytes of the header (everything before the data section, padding included). */
  headerBytes: number;
}
