// attention_hw.wgsl's softmax statistics without subgroups: lanes g * lph .. (g + 1) * lph - 1
// (lph = WG / G) take head g, one partial max and then one partial sum each, combined through
// workgroup memory by the head's first lane (two barriers per statistic). Lanes: the entry
// point's builtins.

struct Lanes {
  @builtin(local_invocation_index) t: u32,
}

var<workgroup> red: array<f32, WG>;

// Lane t's head's statistic over the lanes of its head (lane i == 0 of each head combines and
// writes stat): max (with the sink: with_sink_max) when is_max, else sum (with_sink_sum).
// Uniform control flow.
fn head_reduce(t: u32, v: f32, lph: u32, kvh: u32, is_max: bool) {
  red[t] = v;
  workgroupBarrier();
  let g = t / lph;
  if (t % lph == 0u && g < G) {
    var r = red[t];
    for (var j = 1u; j < lph; j++) { r = select(r + red[t + j], max(r, red[t + j]), is_max); }
    if (is_max) { stat[g].x = with_sink_max(kvh * G + g, r); } else { stat[g].y = with_sink_sum(kvh * G + g, stat[g].x, r); }
  }
  workgroupBarrier();
}

// stat[g] = (max, sum of exp(s - max)) of head g's scores j0..n-1 of the split, for every head
// of KV head kvh (sc: weigh). Ends with a barrier. Uniform control flow.
fn head_stats(l: Lanes, kvh: u32, j0: u32, n: u32) {
  let lph = WG / G;
  let g = l.t / lph;
  let i = l.t % lph;
  var m = NEG_INF;
  if (g < G) {
    for (var j = j0 + i; j < n; j += lph) { m = max(m, sc[g * params.chunk + j]); }
  }
  head_reduce(l.t, m, lph, kvh, true);
  var s = 0.0;
  if (g < G) {
    let mg = stat[g].x;
    for (var j = j0 + i; j < n; j += lph) { s += weigh(g * params.chunk + j, mg); }
  }
  head_reduce(l.t, s, lph, kvh, false);
}
