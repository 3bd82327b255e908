// First in the kernels that use subgroup builtins (adapters with the `subgroups` feature and the
// subgroup_id WGSL language feature: kernels.ts). The shuffles run in loops whose bound is the
// subgroup size, which the uniformity analysis cannot see is uniform.
enable subgroups;
diagnostic(off, subgroup_uniformity);
