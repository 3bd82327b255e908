// Decode attention in the shape for hardware GPUs (f32 cache; kv_f32.wgsl comes first): the same
// product as attention.wgsl's attn (kq = K q, optional Grok soft cap, softmax(kq * scale),
// out = V p), but one workgroup per KV head serves all G query heads that read it, so each K and
// V row is fetched once for the G heads instead of once per head. Workgroup (KV head, split,
// query); query z sits at position pos0 + z and sees positions 0..pos0 + z; a split takes
// `chunk` positions (long contexts: many workgroups, merged by attention_combine.wgsl).
//
// - scores: lane t takes positions p0 + t, p0 + t + WG, ...; it reads its K row along head_dim
//   (vec4 loads) and meets every head's query (in workgroup memory) with each load;
// - softmax: WG / G lanes per head find its max and sum over the scores in workgroup memory, one
//   partial each, combined through workgroup memory (two barriers per statistic);
// - output: lane (g, c) accumulates column c of heads g and g + WG / (head_dim/4) over the
//   split's positions: hd/4 adjacent lanes read one V row contiguously.
// One split writes out = sum / l; several write (sum, max, l) to `part` as attention.wgsl does.

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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> kc: array<KV4>;
@group(0) @binding(3) var<storage, read> vc: array<KV4>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
// Per (query, head, split): head_dim/4 vec4 of output, then vec4(max, sum, 0, 0).
@group(0) @binding(5) var<storage, read_write> part: array<vec4<f32>>;

override WG: u32 = 128;
override G: u32 = 1;        // query heads per KV head (1..8)
const SC: u32 = 2048u;      // scores held: G * chunk <= SC
const MAX_QS: u32 = 256u;   // G * head_dim / 4 <= MAX_QS
const NEG_INF: f32 = -3.4028234663852886e38;

var<workgroup> qs: array<vec4<f32>, MAX_QS>;
var<workgroup> sc: array<f32, SC>;
var<workgroup> red: array<f32, WG>;
var<workgroup> stat: array<vec2<f32>, 8>; // per head (max, sum)

// Lane t's heads' statistic over the lanes of its head (lane i == 0 of each head combines):
// max when is_max, else sum. Uniform control flow.
fn head_reduce(t: u32, v: f32, lph: u32, is_max: bool) {
  red[t] = v;
  workgroupBarrier();
  let g = t / lph;
  if (t % lph == 0u && g < G) {
    var r = red[t];
    for (var j = 1u; j < lph; j++) { r = select(r + red[t + j], max(r, red[t + j]), is_max); }
    if (is_max) { stat[g].x = r; } else { stat[g].y = r; }
  }
  workgroupBarrier();
}

fn write_head(g: u32, a: vec4<f32>, c: u32, kvh: u32, split: u32, z: u32, hd4: u32) {
  let h = kvh * G + g;
  let ml = stat[g];
  if (params.n_split == 1u) {
    out[params.out_off / 4u + (z * params.n_head + h) * hd4 + c] = a / ml.y;
  } else {
    let base = ((z * params.n_head + h) * params.n_split + split) * (hd4 + 1u);
    part[base + c] = a;
    if (c == 0u) { part[base + hd4] = vec4<f32>(ml.x, ml.y, 0.0, 0.0); }
  }
}

@compute @workgroup_size(WG)
fn attn_hw(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let kvh = wg.x;
  let split = wg.y;
  let z = wg.z;
  let hd4 = params.head_dim / 4u;
  let n_kv = params.pos0 + z + 1u;
  let p0 = split * params.chunk;
  let p1 = min(n_kv, p0 + params.chunk);
  let n = select(0u, p1 - p0, p1 > p0); // positions of this split (0: a split past this query)
  // the G heads of this KV head are consecutive in q
  let qo = params.q_off / 4u + (z * params.n_head + kvh * G) * hd4;
  for (var i = t; i < G * hd4; i += WG) { qs[i] = q[qo + i]; }
  workgroupBarrier();

  for (var j = t; j < n; j += WG) {
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

  // softmax statistics: lanes g * lph .. (g + 1) * lph - 1 take head g
  let lph = WG / G;
  let g = t / lph;
  let i = t % lph;
  var m = NEG_INF;
  if (g < G) {
    for (var j = i; j < n; j += lph) { m = max(m, sc[g * params.chunk + j]); }
  }
  head_reduce(t, m, lph, true);
  var l = 0.0;
  if (g < G) {
    let mg = stat[g].x;
    for (var j = i; j < n; j += lph) {
      let e = exp(sc[g * params.chunk + j] - mg);
      sc[g * params.chunk + j] = e;
      l += e;
    }
  }
  head_reduce(t, l, lph, false); // also orders the writes of sc before the reads below

  // out = sum_j e_j V[p0 + j]: lane (hg, c) takes column c of heads hg and hg + hgs
  let hgs = WG / hd4;
  let c = t % hd4;
  let hg = t / hd4;
  let g1 = hg + hgs;
  if (hg >= min(G, hgs)) { return; }
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  for (var j = 0u; j < n; j++) {
    let v = vec4<f32>(vc[((p0 + j) * params.kv_stride) / 4u + kvh * hd4 + c]);
    a0 = fma(v, vec4<f32>(sc[hg * params.chunk + j]), a0);
    if (g1 < G) { a1 = fma(v, vec4<f32>(sc[g1 * params.chunk + j]), a1); }
  }
  write_head(hg, a0, c, kvh, split, z, hd4);
  if (g1 < G) { write_head(g1, a1, c, kvh, split, z, hd4); }
}
