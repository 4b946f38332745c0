// X of the Gram kernels read as f32 (any K): binding 0 and `centred`.

@group(0) @binding(0) var<storage, read> X1: array<f32>;

fn centred(r: u32, c: u32, mu: vec4<f32>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r < gp.M) {
    for (var q = 0u; q < 4u; q++) {
      if (c + q < gp.K) { v[q] = X1[r * gp.K + c + q] - mu[q]; }
    }
  }
  return v;
}
