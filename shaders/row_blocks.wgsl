// Where the 8 rows of a software-shape lane start in the weight (matvec.wgsl and matmul.wgsl: the
// matvec_*/matmul_* row files after this one). The kernel's common file comes first (Params: k,
// row0, row_end).

// First blocks of rows l..l+7 (local to this buffer; past its last row, the last row again: such
// a lane computes rows that exist and writes nothing): rows 0..3 and 4..7.
struct RowBlocks {
  a: vec4<u32>,
  b: vec4<u32>,
}

fn row_blocks(l: u32) -> RowBlocks {
  let nb = params.k >> 5u;
  let last = vec4<u32>(params.row_end - 1u - params.row0);
  let i = vec4<u32>(l) + vec4<u32>(0u, 1u, 2u, 3u);
  return RowBlocks(min(i, last) * nb, min(i + 4u, last) * nb);
}
