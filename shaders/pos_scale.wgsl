// A weight type's positional scaling and byte-3 sums, shared by the kernels that meet the weights'
// masked fields: quant_act.wgsl (which explains POS and B3) and embed.wgsl.
override POS: u32 = 0;
override B3: u32 = 0;

// The factor element j (0..31) of a block is stored with (see POS in quant_act.wgsl).
fn pos_scale(j: u32) -> f32 {
  let b = j & 3u;
  let k = (j >> 2u) & 3u; // POS 3: the 2-bit field of the element within its byte
  let e3 = select(8u * b + 2u * k, 8u * b, k == 3u);
  let e = select(select(8u * b, select(8u * b + 4u, 0u, b == 3u), j >= 16u && POS == 1u), e3, POS == 3u);
  if (POS == 0u) { return 1.0; }
  return bitcast<f32>((127u - e) << 23u); // 2^-e
}

// Whether element j counts in the block's sums.
fn in_sum(j: u32) -> bool {
  return B3 == 0u || (j & 3u) != 3u;
}
