// The 8 rows' dot products of matvec.wgsl in ggml's order for Q8_0 (ggml_lanes.wgsl).

// Dot products of rows fr..fr+7 (clamped into this buffer) with the activation at vec4 abase.
fn dot_rows(fr: u32, abase: u32) -> Rows {
  let r = lane_rows(row_blocks(fr - params.row0), abase);
  return Rows(r[0], r[1]);
}
