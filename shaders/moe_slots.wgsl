// Expert paging: the slot of each (token, choice) from the router's expert ids and the slot table
// (expert-pool.ts): slots[i] = table[table_off + ids[i]], the pool's slot count for an expert that
// is not resident (the expert kernels skip those pairs). One invocation per entry.

struct Params {
  n: u32,          // entries: tokens * experts used
  table_off: u32,  // this layer's first table entry (layer * n_expert)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> slots: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn slot_map(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < params.n) { slots[i] = table[params.table_off + ids[i]]; }
}
