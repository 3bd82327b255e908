// Exports of cpu.wasm that are not ops: the allocator and the matrix products.
#include "cpu.h"

CPU_EXPORT(wm_malloc) void *wm_malloc(size_t n) { return malloc(n ? n : 1); }
CPU_EXPORT(wm_free) void wm_free(void *p) { free(p); }

// Bytes of one row of cols values of a `type` weight; 0 when the type has no kernel or cols is
// not a whole number of its blocks.
CPU_EXPORT(cpu_row_bytes) size_t cpu_row_bytes(int type, int cols) {
  switch (type) {
    case T_F32: return (size_t)cols * 4;
    case T_F16: case T_BF16: return (size_t)cols * 2;
    case T_Q4_0: return cols % QK ? 0 : (size_t)cols / QK * 18;
    case T_Q4_1: return cols % QK ? 0 : (size_t)cols / QK * 20;
    case T_Q5_0: return cols % QK ? 0 : (size_t)cols / QK * 22;
    case T_Q5_1: return cols % QK ? 0 : (size_t)cols / QK * 24;
    case T_Q8_0: return cols % QK ? 0 : (size_t)cols / QK * 34;
    case T_Q4_K: return cols % QK_K ? 0 : (size_t)cols / QK_K * 144;
    case T_Q5_K: return cols % QK_K ? 0 : (size_t)cols / QK_K * 176;
    case T_Q6_K: return cols % QK_K ? 0 : (size_t)cols / QK_K * 210;
    case T_IQ4_NL: return cols % QK ? 0 : (size_t)cols / QK * 18;
    case T_MXFP4: return cols % QK ? 0 : (size_t)cols / QK * 17;
    case T_Q2_K: return cols % QK_K ? 0 : (size_t)cols / QK_K * 84;
    case T_Q3_K: return cols % QK_K ? 0 : (size_t)cols / QK_K * 110;
    case T_IQ4_XS: return cols % QK_K ? 0 : (size_t)cols / QK_K * 136;
    default: return 0;
  }
}

// Bytes of scratch cpu_matmul needs for n inputs of cols values.
CPU_EXPORT(cpu_scratch_bytes) size_t cpu_scratch_bytes(int type, int cols, int n) {
  return cpu_act_bytes(type, cols) * (size_t)n;
}

// CPU_OK when rows of cols values of `type` have a kernel; else why not (as cpu_matmul reports it).
static int shape_status(int type, int cols) {
  const size_t rb = cpu_row_bytes(type, cols), ab = cpu_act_bytes(type, cols);
  return rb && ab ? CPU_OK : rb ? CPU_ERR_ARG : CPU_ERR_TYPE;
}

// First half of cpu_matmul: the n inputs x (n, cols) converted to the weight's vec_dot_type, into
// scratch (cpu_scratch_bytes).
CPU_EXPORT(cpu_matmul_convert) int cpu_matmul_convert(int type, int cols, const float *x, int n, void *scratch) {
  const int st = shape_status(type, cols);
  if (st) return st;
  if (!x || !scratch || n <= 0) return CPU_ERR_ARG;
  const size_t ab = cpu_act_bytes(type, cols);
  for (int j = 0; j < n; j++) cpu_convert(type, x + (size_t)j * cols, cols, (uint8_t *)scratch + ab * j);
  return CPU_OK;
}

// Second half: rows [r0, r1) of y (n, rows) from the converted inputs in scratch. Each row is one
// dot product per input, whole, so splitting the rows among threads changes no sum.
CPU_EXPORT(cpu_matmul_rows) int cpu_matmul_rows(int type, const uint8_t *w, int r0, int r1, int rows, int cols, int n, float *y, const void *scratch) {
  const int st = shape_status(type, cols);
  if (st) return st;
  if (!w || !y || !scratch || r0 < 0 || r1 > rows || n <= 0) return CPU_ERR_ARG;
  const size_t rb = cpu_row_bytes(type, cols), ab = cpu_act_bytes(type, cols);
  const uint8_t *act = scratch;
  const int path = rows % 8 ? PATH_VEC : PATH_GEMV;
  for (int r = r0; r < r1; r++) {
    const uint8_t *wr = w + rb * r;
    for (int j = 0; j < n; j++) y[(size_t)j * rows + r] = cpu_dot(type, wr, act + ab * j, cols, path);
  }
  return CPU_OK;
}

// Y = W · X for n inputs: x is (n, cols) f32, w is (rows, cols) of `type` in GGUF's block layout,
// y is (n, rows). Each input is converted to the weight's vec_dot_type once (in scratch, see
// cpu_scratch_bytes), then every row meets every input while it is in cache.
CPU_EXPORT(cpu_matmul) int cpu_matmul(int type, const uint8_t *w, int rows, int cols, const float *x, int n, float *y, void *scratch) {
  int st = shape_status(type, cols);
  if (st) return st;
  if (!w || !y || rows <= 0) return CPU_ERR_ARG;
  st = cpu_matmul_convert(type, cols, x, n, scratch);
  return st ? st : cpu_matmul_rows(type, w, 0, rows, rows, cols, n, y, scratch);
}
