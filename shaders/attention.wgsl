// Attention of queries over the KV cache (ggml's non-flash path: kq = K q, optional Grok soft cap,
// softmax(kq * scale), out = V p), split over the cached positions (flash-decoding): workgroup
// (head, split, query). Query z of a batch sits at position pos0 + z and sees positions
// 0..pos0 + z (causal). With one split the output is written directly; with several, each split
// writes its maximum, sum and unnormalized output to `part`, and attn_combine
// (attention_combine.wgsl) merges them.
// Query head h reads KV head h / (n_head / n_head_kv) (GQA). With a sliding window (gpt-oss),
// query z sees only the last `window` positions (itself included); with sinks, head h's learned
// logit sink[h] (not scaled) joins the softmax's max and denominator and nothing else: added
// where a row's statistics are whole (one split, or the merge of several).
//
// attn_tile (batches): workgroup (head group, split, token tile) takes qh heads of one KV head
// times tq tokens (at most 16 queries, head_dim at most 128) over a chunk of TCH positions, so
// each K and V row read serves up to 16 queries and a workgroup's fixed costs (barriers, the
// softmax) are paid once for all of them. Same partial format as attn.
//
// With an f16 cache (kv_f16.wgsl; attn only): ggml's numerics for that cache, where q and the
// normalized softmax output p = exp(s - M) / L are rounded to f16 (M, L: max and sum over the
// whole row, not a split's). mode 2 computes p so and out = sum_p p V; with several splits a
// first launch in mode 1 writes each split's (max, sum) to `part`, the mode 2 launch combines
// them into M and L, and attn_combine (mode 2) adds the splits' outputs.

struct Params {
  n_head: u32,
  n_head_kv: u32,
  head_dim: u32,
  pos0: u32,       // position of query 0
  n_split: u32,    // splits per query (dispatch y)
  chunk: u32,      // positions per split (<= CHUNK)
  kv_stride: u32,  // floats per position in the caches
  q_off: u32,      // float offset of query 0 in q
  out_off: u32,    // float offset of query 0's output
  scale: f32,      // kq scale inside the softmax
  softcap: f32,    // Grok: kq = softcap * tanh(kq * cap_scale) first; 0 = off
  cap_scale: f32,
  qh: u32,         // attn_tile: heads per workgroup (a divisor of n_head / n_head_kv)
  tq: u32,         // attn_tile: tokens per workgroup (qh * tq <= 16)
  n_tok: u32,      // attn_tile: tokens in the batch
  mode: u32,       // 0: f32 cache; f16 cache: 1 = split statistics only, 2 = output (see above)
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

override WG: u32 = 64;
override CHUNK: u32 = 512;
const MAX_HD4: u32 = 64u; // head_dim up to 256

var<workgroup> qs: array<vec4<f32>, MAX_HD4>;
var<workgroup> sc: array<f32, CHUNK>;
var<workgroup> red: array<f32, WG>;
var<workgroup> acc: array<vec4<f32>, WG>;

// The first position a query at position pos sees.
fn first_seen(pos: u32) -> u32 {
  return select(0u, pos + 1u - min(pos + 1u, params.window), params.window != 0u);
}

fn reduce_max(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red[t] = max(red[t], red[t + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn attn(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wg.x;
  let split = wg.y;
  let z = wg.z;
  let hd4 = params.head_dim / 4u;
  let kvh = h / (params.n_head / params.n_head_kv);
  let n_kv = params.pos0 + z + 1u;
  let p0 = split * params.chunk;
  let p1 = min(n_kv, p0 + params.chunk);
  let lo = max(p0, first_seen(n_kv - 1u)); // positions before it are outside the window
  let qo = (params.q_off / 4u) + (z * params.n_head + h) * hd4;
  for (var i = t; i < hd4; i += WG) {
    let v = q[qo + i];
    qs[i] = select(v, vec4<f32>(kv_round(v.x), kv_round(v.y), kv_round(v.z), kv_round(v.w)), KV_F16);
  }
  workgroupBarrier();

  // scores of this split's positions
  var m = -3.4028234663852886e38;
  for (var p = lo + t; p < p1; p += WG) {
    let ko = (p * params.kv_stride) / 4u + kvh * hd4;
    var s4 = vec4<f32>(0.0);
    for (var i = 0u; i < hd4; i++) { s4 = fma(vec4<f32>(kc[ko + i]), qs[i], s4); }
    var s = (s4.x + s4.y) + (s4.z + s4.w);
    if (params.softcap != 0.0) { s = tanh(s * params.cap_scale) * params.softcap; }
    s *= params.scale;
    sc[p - p0] = s;
    m = max(m, s);
  }
  m = reduce_max(t, m);
  let whole = params.sinks == 1u && params.n_split == 1u; // this workgroup holds the row's statistics
  if (whole) { m = max(m, sink[h]); }
  var l = 0.0;
  if (params.mode == 2u && params.n_split > 1u) {
    // M and L of the whole row from every split's statistics (mode 1 launch)
    let used = min(params.n_split, (n_kv + params.chunk - 1u) / params.chunk);
    let sbase = (z * params.n_head + h) * params.n_split;
    var big_m = -3.4028234663852886e38;
    for (var s = 0u; s < used; s++) { big_m = max(big_m, part[(sbase + s) * (hd4 + 1u) + hd4].x); }
    if (params.sinks == 1u) { big_m = max(big_m, sink[h]); }
    for (var s = 0u; s < used; s++) {
      let ml = part[(sbase + s) * (hd4 + 1u) + hd4];
      l += ml.y * exp(ml.x - big_m);
    }
    if (params.sinks == 1u) { l += exp(sink[h] - big_m); }
    m = big_m;
  } else {
    for (var p = lo + t; p < p1; p += WG) {
      let e = exp(sc[p - p0] - m);
      l += e;
      if (params.mode == 0u) { sc[p - p0] = e; } // the weights, normalized at the end
    }
    l = reduce_sum(t, l); // also orders the writes of sc before the reads below
    if (whole) { l += exp(sink[h] - m); }
  }
  if (params.mode == 1u) {
    if (t == 0u) { part[((z * params.n_head + h) * params.n_split + split) * (hd4 + 1u) + hd4] = vec4<f32>(m, l, 0.0, 0.0); }
    return;
  }
  if (params.mode == 2u) {
    // ggml's weights on an f16 cache: f16(exp(s - M) * (1 / L)), already normalized
    let inv = 1.0 / l;
    for (var p = lo + t; p < p1; p += WG) { sc[p - p0] = kv_round(exp(sc[p - p0] - m) * inv); }
    workgroupBarrier();
    l = 1.0;
  }

  // out = sum_p e_p V[p]: invocation t takes column c = t % hd4 of positions p = ph (mod phases)
  let phases = max(1u, WG / hd4);
  let c = t % hd4;
  let ph = t / hd4;
  var o4 = vec4<f32>(0.0);
  if (ph < phases && c < hd4) {
    for (var p = lo + ph; p < p1; p += phases) {
      o4 = fma(vec4<f32>(vc[(p * params.kv_stride) / 4u + kvh * hd4 + c]), vec4<f32>(sc[p - p0]), o4);
    }
  }
  acc[t] = o4;
  workgroupBarrier();
  // head_dim/4 > WG is not supported (checked on the CPU side)
  if (t < hd4) {
    var sum4 = acc[t];
    for (var j = 1u; j < phases; j++) { sum4 += acc[j * hd4 + t]; }
    if (params.n_split == 1u) {
      out[params.out_off / 4u + (z * params.n_head + h) * hd4 + t] = sum4 / l;
    } else {
      let base = ((z * params.n_head + h) * params.n_split + split) * (hd4 + 1u);
      part[base + t] = sum4;
      // (mode 2: the statistics of mode 1 stay; other workgroups read them)
      if (t == 0u && params.mode == 0u) { part[base + hd4] = vec4<f32>(m, l, 0.0, 0.0); }
    }
  }
}

override TCH: u32 = 256;
const QN_MAX: u32 = 16u;
const THD4: u32 = 32u; // head_dim / 4 up to 32 in attn_tile

var<workgroup> tq_q: array<vec4<f32>, 512>;   // QN_MAX * THD4 query vectors
var<workgroup> tq_s: array<f32, 4096>;        // QN_MAX * TCH scores, then exp(score - max)
var<workgroup> tq_ml: array<vec2<f32>, 16>;   // per query (max, sum)

const NEG_INF: f32 = -3.4028234663852886e38;

@compute @workgroup_size(WG)
fn attn_tile(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let hd4 = params.head_dim / 4u;
  let h0 = wg.x * params.qh;
  let kvh = h0 / (params.n_head / params.n_head_kv);
  let z0 = wg.z * params.tq;
  let ntok = min(params.tq, params.n_tok - z0);
  let nq = params.qh * ntok; // query qi: head h0 + qi % qh, token z0 + qi / qh
  for (var i = t; i < nq * hd4; i += WG) {
    let qi = i / hd4;
    let c = i % hd4;
    let z = z0 + qi / params.qh;
    tq_q[qi * THD4 + c] = q[params.q_off / 4u + (z * params.n_head + h0 + qi % params.qh) * hd4 + c];
  }
  workgroupBarrier();

  let p0 = wg.y * TCH;
  let last = params.pos0 + z0 + ntok - 1u; // the last position any of these queries sees
  let p1 = min(last + 1u, p0 + TCH);
  // scores: each K row is read once into registers and met by every query
  for (var p = p0 + t; p < p1; p += WG) {
    let ko = (p * params.kv_stride) / 4u + kvh * hd4;
    var kr: array<vec4<f32>, 32>;
    for (var c = 0u; c < hd4; c++) { kr[c] = vec4<f32>(kc[ko + c]); }
    for (var qi = 0u; qi < nq; qi++) {
      var s = NEG_INF;
      let pq = params.pos0 + z0 + qi / params.qh;
      if (p <= pq && p >= first_seen(pq)) {
        var s4 = vec4<f32>(0.0);
        for (var c = 0u; c < hd4; c++) { s4 = fma(kr[c], tq_q[qi * THD4 + c], s4); }
        s = (s4.x + s4.y) + (s4.z + s4.w);
        if (params.softcap != 0.0) { s = tanh(s * params.cap_scale) * params.softcap; }
        s *= params.scale;
      }
      tq_s[qi * TCH + (p - p0)] = s;
    }
  }
  workgroupBarrier();
  // softmax statistics, one invocation per query
  if (t < nq) {
    let whole = params.sinks == 1u && params.n_split == 1u;
    var m = NEG_INF;
    for (var p = p0; p < p1; p++) { m = max(m, tq_s[t * TCH + (p - p0)]); }
    if (whole) { m = max(m, sink[h0 + t % params.qh]); }
    var l = 0.0;
    for (var p = p0; p < p1; p++) {
      let v = tq_s[t * TCH + (p - p0)];
      let e = select(exp(v - m), 0.0, v == NEG_INF);
      tq_s[t * TCH + (p - p0)] = e;
      l += e;
    }
    if (whole) { l += exp(sink[h0 + t % params.qh] - m); }
    tq_ml[t] = vec2<f32>(m, l);
  }
  workgroupBarrier();
  // out = sum_p e_p V[p]: invocation t takes column c = t % hd4 for queries g, g + groups, ...,
  // four at a time, so each V read serves four queries
  let groups = max(1u, WG / hd4);
  let c = t % hd4;
  let g = t / hd4;
  if (g >= groups) { return; }
  for (var qb = g; qb < nq; qb += 4u * groups) {
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    let q1 = min(qb + groups, nq - 1u);
    let q2 = min(qb + 2u * groups, nq - 1u);
    let q3 = min(qb + 3u * groups, nq - 1u);
    for (var p = p0; p < p1; p++) {
      let v = vec4<f32>(vc[(p * params.kv_stride) / 4u + kvh * hd4 + c]);
      let j = p - p0;
      a0 = fma(v, vec4<f32>(tq_s[qb * TCH + j]), a0);
      a1 = fma(v, vec4<f32>(tq_s[q1 * TCH + j]), a1);
      a2 = fma(v, vec4<f32>(tq_s[q2 * TCH + j]), a2);
      a3 = fma(v, vec4<f32>(tq_s[q3 * TCH + j]), a3);
    }
    for (var k = 0u; k < 4u; k++) {
      let qi = qb + k * groups;
      if (qi >= nq) { break; }
      let a = select(select(select(a0, a1, k == 1u), a2, k == 2u), a3, k == 3u);
      let z = z0 + qi / params.qh;
      let h = h0 + qi % params.qh;
      let ml = tq_ml[qi];
      if (params.n_split == 1u) {
        out[params.out_off / 4u + (z * params.n_head + h) * hd4 + c] = a / ml.y;
      } else {
        let base = ((z * params.n_head + h) * params.n_split + wg.y) * (hd4 + 1u);
        part[base + c] = a;
        if (c == 0u) { part[base + hd4] = vec4<f32>(ml.x, ml.y, 0.0, 0.0); }
      }
    }
  }
}
