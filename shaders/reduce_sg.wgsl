// reduce_rows with subgroups (subgroups.wgsl first, then lanes_sg.wgsl: the entry points'
// builtins): the lanes' (sum, error) pairs of 8 rows (matvec_hw.wgsl Part) combined within each
// subgroup by a butterfly of shuffles (TwoSum at every step: subgroupAdd would drop the errors),
// then the subgroups' totals through workgroup memory (one barrier), summed by lanes 0..7 in
// order of subgroup id. Needs `override WG` and sum.wgsl; call it in uniform control flow.

var<workgroup> part: array<array<vec2<f32>, 8>, WG>;
var<workgroup> total: array<f32, 8>;

// The compensated totals of the 8 rows, in every lane.
fn reduce_rows(p: Part, l: Lanes) -> Rows {
  var q = p;
  for (var o = 1u; o < l.size; o <<= 1u) {
    let sa = subgroupShuffleXor(q.sa, o);
    let sb = subgroupShuffleXor(q.sb, o);
    var ea = q.ea + subgroupShuffleXor(q.ea, o);
    var eb = q.eb + subgroupShuffleXor(q.eb, o);
    q.sa = two_sum4(q.sa, sa, &ea);
    q.sb = two_sum4(q.sb, sb, &eb);
    q.ea = ea;
    q.eb = eb;
  }
  if (l.lane == 0u) {
    for (var i = 0u; i < 4u; i++) {
      part[l.sg][i] = vec2<f32>(q.sa[i], q.ea[i]);
      part[l.sg][4u + i] = vec2<f32>(q.sb[i], q.eb[i]);
    }
  }
  workgroupBarrier();
  if (l.t < 8u) {
    var row = part[0][l.t];
    for (var j = 1u; j < l.count; j++) { row = two_sum(row, part[j][l.t]); }
    total[l.t] = row.x + row.y;
  }
  workgroupBarrier();
  return Rows(vec4<f32>(total[0], total[1], total[2], total[3]), vec4<f32>(total[4], total[5], total[6], total[7]));
}
