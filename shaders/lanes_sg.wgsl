// The entry points' builtins in the kernels that reduce through subgroups (reduce_sg.wgsl,
// attention_hw_sg.wgsl). Comes after every file with an `enable` directive (subgroups.wgsl,
// kv_f16.wgsl): WGSL takes directives only before the first declaration.

struct Lanes {
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_id) sg: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) size: u32,
  @builtin(num_subgroups) count: u32,
}
