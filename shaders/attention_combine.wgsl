// Merges the splits of decode and batch attention: attention.wgsl's attn and attn_tile and
// attention_hw.wgsl's attn_hw write, per (query z, head h, split s), head_dim/4 vec4 of output o_s
// and then vec4(m_s, l_s, 0, 0) (the split's max and sum) to `part`; a workgroup per (head, query)
// writes out = sum_s o_s e^(m_s - M) / (sum_s l_s e^(m_s - M) [+ e^(sink[h] - M)]), M the largest
// m_s [and sink[h]]; in mode 2 (f16 cache: outputs already normalized) out = sum_s o_s.

struct Params {
  n_head: u32,
  head_dim: u32,
  pos0: u32,    // position of query 0 (query z sees pos0 + z + 1 positions)
  n_split: u32, // splits per query written to part
  chunk: u32,   // positions per split
  out_off: u32, // float offset of query 0's output
  mode: u32,    // 0: merge (max, sum) statistics; 2: add normalized outputs
  sinks: u32,   // 1: sink[h] joins each head's max and denominator
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> sink: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn attn_combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wg.x;
  let z = wg.z;
  let hd4 = params.head_dim / 4u;
  let n_kv = params.pos0 + z + 1u;
  let used = min(params.n_split, (n_kv + params.chunk - 1u) / params.chunk);
  let base = (z * params.n_head + h) * params.n_split;
  if (params.mode == 2u) {
    for (var i = t; i < hd4; i += WG) {
      var o = vec4<f32>(0.0);
      for (var s = 0u; s < used; s++) { o += part[(base + s) * (hd4 + 1u) + i]; }
      out[params.out_off / 4u + (z * params.n_head + h) * hd4 + i] = o;
    }
    return;
  }
  var mx = -3.4028234663852886e38;
  for (var s = 0u; s < used; s++) { mx = max(mx, part[(base + s) * (hd4 + 1u) + hd4].x); }
  if (params.sinks == 1u) { mx = max(mx, sink[h]); }
  var l = 0.0;
  for (var s = 0u; s < used; s++) {
    let ml = part[(base + s) * (hd4 + 1u) + hd4];
    l += ml.y * exp(ml.x - mx);
  }
  if (params.sinks == 1u) { l += exp(sink[h] - mx); }
  for (var i = t; i < hd4; i += WG) {
    var o = vec4<f32>(0.0);
    for (var s = 0u; s < used; s++) {
      let f = exp(part[(base + s) * (hd4 + 1u) + hd4].x - mx);
      o = fma(part[(base + s) * (hd4 + 1u) + i], vec4<f32>(f), o);
    }
    out[params.out_off / 4u + (z * params.n_head + h) * hd4 + i] = o / l;
  }
}
