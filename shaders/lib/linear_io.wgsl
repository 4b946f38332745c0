// The linear kernels' uniforms and output bindings (lib/linear.wgsl, lib/linear_rr.wgsl).

struct Params {
  M: u32,
  K: u32,
  N: u32,       // rows of the bound W range = output columns computed by this dispatch
  hasBias: u32,
  ldy: u32,     // row stride of Y (the full output width)
  yCol: u32,    // first output column (and bias index) of this W range
}

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
