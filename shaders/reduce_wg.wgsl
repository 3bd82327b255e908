// reduce_rows without subgroups: the lanes' (sum, error) pairs of 8 rows (matvec_hw.wgsl Part)
// combined through workgroup memory in two parallel steps: lane t sums row t % 8 over 8 lanes,
// then lanes 0..7 sum their row over the WG / 8 groups; TwoSum at every step (sum.wgsl). Few
// barriers and no loop around one (lavapipe compiles a barrier inside a loop very slowly). Needs
// `override WG` (64 or 128); call it in uniform control flow. Lanes: the entry points' builtins.

struct Lanes {
  @builtin(local_invocation_index) t: u32,
}

var<workgroup> part: array<array<vec2<f32>, 8>, WG>;
var<workgroup> total: array<f32, 8>;

// The compensated totals of the 8 rows, in every lane.
fn reduce_rows(p: Part, l: Lanes) -> Rows {
  let t = l.t;
  for (var i = 0u; i < 4u; i++) {
    part[t][i] = vec2<f32>(p.sa[i], p.ea[i]);
    part[t][4u + i] = vec2<f32>(p.sb[i], p.eb[i]);
  }
  workgroupBarrier();
  let r = t & 7u;
  let g = t >> 3u;
  var acc = part[8u * g][r];
  for (var j = 1u; j < 8u; j++) { acc = two_sum(acc, part[8u * g + j][r]); }
  workgroupBarrier();
  part[g][r] = acc;
  workgroupBarrier();
  if (t < 8u) {
    var row = part[0][t];
    for (var j = 1u; j < WG / 8u; j++) { row = two_sum(row, part[j][t]); }
    total[t] = row.x + row.y;
  }
  workgroupBarrier();
  return Rows(vec4<f32>(total[0], total[1], total[2], total[3]), vec4<f32>(total[4], total[5], total[6], total[7]));
}
