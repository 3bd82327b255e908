// Decode attention in the shape for hardware GPUs: the same product as attention.wgsl's attn
// (kq = K q, optional Grok soft cap, softmax(kq * scale), out = V p; sliding window; sink logits;
// the f32 cache, or the f16 cache with ggml's numerics), but one workgroup per KV head serves
// all G query heads that read it, so each K and V row is fetched once for the G heads instead of
// once per head. Workgroup (KV head, split, query); query z sits at position pos0 + z and sees
// positions 0..pos0 + z (the last `window` of them with a window); a split takes `chunk`
// positions (long contexts: many workgroups, merged by attention_combine.wgsl).
// Sources: kv_f32.wgsl or kv_f16.wgsl, half.wgsl, the softmax statistics (attention_hw_sg.wgsl
// with subgroups: subgroups.wgsl first, lanes_sg.wgsl after the kv file; attention_hw_wg.wgsl
// without), then this file.
//
// - scores: lane t takes positions p0 + t, p0 + t + WG, ...; it reads its K row along head_dim
//   (vec4 loads) and meets every head's query (in workgroup memory) with each load; the dot
//   product is attention.wgsl's, operation for operation;
// - softmax statistics (max, sum) per head: head_stats, by subgroups or through workgroup memory;
//   sink[h] joins them where the workgroup holds the whole row (one split), else the merge;
// - output: lane (g, c) accumulates column c of heads g and g + WG / (head_dim/4) over the
//   split's positions: hd/4 adjacent lanes read one V row contiguously.
// One split writes out = sum / l; several write (sum, max, l) to `part` as attention.wgsl does.
// f16 cache (attention.wgsl's modes): q rounded to f16; mode 2 weighs V by
// p = f16(exp(s - M) * (1 / L)), M and L of the whole row: with several splits a mode 1 launch
// first writes each split's (max, sum) to `part`, and attn_combine (mode 2) adds the outputs.

struct Params {
  n_head: u32,
  n_head_kv: u32,
  head_dim: u32,
  pos0: u32,       // position of query 0
  n_split: u32,    // splits per query (dispatch y)
  chunk: u32,      // positions per split (G * chunk <= SC)
  kv_stride: u32,  // floats per position in the caches
  q_off: u32,      // float offset of query 0 in q
  out_off: u32,    // float offset of query 0's output
  scale: f32,      // kq scale inside the softmax
  softcap: f32,    // Grok: kq = softcap * tanh(kq * cap_scale) first; 0 = off
  cap_scale: f32,
  mode: u32,       // 0: f32 cache; f16 cache: 1 = split statistics only, 2 = output
  window: u32,     // sliding window: positions a query sees, itself included; 0 = all
  sinks: u32,      // 1: sink[h] joins each head's softmax
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> kc: array<KV4>;
@group(0) @binding(3) var<storage, read> vc: array<KV4>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
// Per (query, head, split): head_dim/4 vec4 of output, then vec4(max, sum, 0, 0).
@group(0) @binding(5) var<storage, read_write> part: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> sink: array<f32>;

override WG: u32 = 128;
override G: u32 = 1;        // query heads per KV head (1..8)
const SC: u32 = 2048u;      // scores held: G * chunk <= SC
const MAX_QS: u32 = 256u;   // G * head_dim / 4 <= MAX_QS
const NEG_INF: f32 = -3.4028234663852886e38;

var<workgroup> qs: array<vec4<f32>, MAX_QS>;
var<workgroup> sc: array<f32, SC>;
var<workgroup> stat: array<vec2<f32>, 8>; // per head (max, sum)

// Query head h's max m over its scores, with its sink where this workgroup holds the whole row.
fn with_sink_max(h: u32, m: f32) -> f32 {
  return select(m, max(m, sink[h]), params.sinks == 1u && params.n_split == 1u);
}

// Query head h's sum l of exp(s - m), with its sink's exp(sink - m) as with_sink_max.
fn with_sink_sum(h: u32, m: f32, l: f32) -> f32 {
  return select(l, l + exp(sink[h] - m), params.sinks == 1u && params.n_split == 1u);
}

// Score j of a head, once its max m is known: exp(s_j - m), kept in sc for the output (mode 0).
fn weigh(i: u32, m: f32) -> f32 {
  let e = exp(sc[i] - m);
  if (params.mode == 0u) { sc[i] = e; }
  return e;
}

// (M, L) of query head h over the whole row from every split's statistics (mode 1 launch).
fn row_stats(h: u32, z: u32, n_kv: u32, hd4: u32) -> vec2<f32> {
  let used = min(params.n_split, (n_kv + params.chunk - 1u) / params.chunk);
  let sbase = (z * params.n_head + h) * params.n_split;
  var m = NEG_INF;
  for (var s = 0u; s < used; s++) { m = max(m, part[(sbase + s) * (hd4 + 1u) + hd4].x); }
  if (params.sinks == 1u) { m = max(m, sink[h]); }
  var l = 0.0;
  for (var s = 0u; s < used; s++) {
    let ml = part[(sbase + s) * (hd4 + 1u) + hd4];
    l += ml.y * exp(ml.x - m);
  }
  if (params.sinks == 1u) { l += exp(sink[h] - m); }
  return vec2<f32>(m, l);
}

fn write_head(g: u32, a: vec4<f32>, c: u32, kvh: u32, split: u32, z: u32, hd4: u32) {
  let h = kvh * G + g;
  let ml = stat[g];
  if (params.n_split == 1u) {
    // mode 2: the weights were normalized already
    out[params.out_off / 4u + (z * params.n_head + h) * hd4 + c] = select(a / ml.y, a, params.mode == 2u);
  } else {
    let base = ((z * params.n_head + h) * params.n_split + split) * (hd4 + 1u);
    part[base + c] = a;
    // (mode 2: the statistics of mode 1 stay; other workgroups read them)
    if (c == 0u && params.mode == 0u) { part[base + hd4] = vec4<f32>(ml.x, ml.y, 0.0, 0.0); }
  }
}

@compute @workgroup_size(WG)
fn attn_hw(@builtin(workgroup_id) wg: vec3<u32>, l: Lanes) {
  let t = l.t;
  let kvh = wg.x;
  let split = wg.y;
  let z = wg.z;
  let hd4 = params.head_dim / 4u;
  let n_kv = params.pos0 + z + 1u;
  let p0 = split * params.chunk;
  let p1 = min(n_kv, p0 + params.chunk);
  let n = select(0u, p1 - p0, p1 > p0); // positions of this split (0: a split past this query)
  // scores j0..n-1 of the split: those before the window's first position are not seen
  let first = select(0u, n_kv - min(n_kv, params.window), params.window != 0u);
  let j0 = min(n, select(0u, first - p0, first > p0));
  // the G heads of this KV head are consecutive in q
  let qo = params.q_off / 4u + (z * params.n_head + kvh * G) * hd4;
  for (var i = t; i < G * hd4; i += WG) {
    let v = q[qo + i];
    qs[i] = select(v, vec4<f32>(kv_round(v.x), kv_round(v.y), kv_round(v.z), kv_round(v.w)), KV_F16);
  }
  workgroupBarrier();

  for (var j = j0 + t; j < n; j += WG) {
    let ko = ((p0 + j) * params.kv_stride) / 4u + kvh * hd4;
    var s4 = array<vec4<f32>, 8>(); // zero for each position
    for (var c = 0u; c < hd4; c++) {
      let k = vec4<f32>(kc[ko + c]);
      for (var g = 0u; g < G; g++) { s4[g] = fma(k, qs[g * hd4 + c], s4[g]); }
    }
    for (var g = 0u; g < G; g++) {
      var s = (s4[g].x + s4[g].y) + (s4[g].z + s4[g].w);
      if (params.softcap != 0.0) { s = tanh(s * params.cap_scale) * params.softcap; }
      sc[g * params.chunk + j] = s * params.scale;
    }
  }
  workgroupBarrier();

  // stat[g] = (max, sum) of each head: the whole row's in mode 2 with splits, else the split's
  // (sc then holds exp(s - max) in mode 0)
  if (params.mode == 2u && params.n_split > 1u) {
    if (t < G) { stat[t] = row_stats(kvh * G + t, z, n_kv, hd4); }
    workgroupBarrier();
  } else {
    head_stats(l, kvh, j0, n); // also orders the writes of sc before the reads below
  }
  if (params.mode == 1u) {
    if (t < G) {
      let h = kvh * G + t;
      part[((z * params.n_head + h) * params.n_split + split) * (hd4 + 1u) + hd4] = vec4<f32>(stat[t].x, stat[t].y, 0.0, 0.0);
    }
    return;
  }
  if (params.mode == 2u) {
    // ggml's weights on an f16 cache: f16(exp(s - M) * (1 / L)), already normalized
    for (var i = t; i < G * n; i += WG) {
      let g = i / n;
      let j = i % n;
      if (j >= j0) {
        let inv = 1.0 / stat[g].y;
        sc[g * params.chunk + j] = kv_round(exp(sc[g * params.chunk + j] - stat[g].x) * inv);
      }
    }
    workgroupBarrier();
  }

  // out = sum_j e_j V[p0 + j]: lane (hg, c) takes column c of heads hg and hg + hgs
  let hgs = WG / hd4;
  let c = t % hd4;
  let hg = t / hd4;
  let g1 = hg + hgs;
  if (hg >= min(G, hgs)) { return; }
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  for (var j = j0; j < n; j++) {
    let v = vec4<f32>(vc[((p0 + j) * params.kv_stride) / 4u + kvh * hd4 + c]);
    a0 = fma(v, vec4<f32>(sc[hg * params.chunk + j]), a0);
    if (g1 < G) { a1 = fma(v, vec4<f32>(sc[g1 * params.chunk + j]), a1); }
  }
  write_head(hg, a0, c, kvh, split, z, hd4);
  if (g1 < G) { write_head(g1, a1, c, kvh, split, z, hd4); }
}
