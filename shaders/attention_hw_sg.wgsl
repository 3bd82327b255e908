// attention_hw.wgsl's softmax statistics with subgroups (subgroups.wgsl, then after the KV file
// lanes_sg.wgsl: the entry point's builtins): subgroup s takes heads s, s + count, ...: its lanes
// take the head's scores in turn, subgroupMax and subgroupAdd combine them, and one barrier at
// the end publishes stat and sc.

// stat[g] = (max, sum of exp(s - max)) of head g's scores j0..n-1 of the split, for every head
// of KV head kvh (sc: weigh). Ends with a barrier. Uniform control flow.
fn head_stats(l: Lanes, kvh: u32, j0: u32, n: u32) {
  for (var g = l.sg; g < G; g += l.count) {
    let h = kvh * G + g;
    var m = NEG_INF;
    for (var j = j0 + l.lane; j < n; j += l.size) { m = max(m, sc[g * params.chunk + j]); }
    m = with_sink_max(h, subgroupMax(m));
    var s = 0.0;
    for (var j = j0 + l.lane; j < n; j += l.size) { s += weigh(g * params.chunk + j, m); }
    s = with_sink_sum(h, m, subgroupAdd(s));
    if (l.lane == 0u) { stat[g] = vec2<f32>(m, s); }
  }
  workgroupBarrier();
}
