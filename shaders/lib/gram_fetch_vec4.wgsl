// X of the Gram kernels read as vec4 (K % 4 == 0): binding 0 and `centred`.

@group(0) @binding(0) var<storage, read> X4: array<vec4<f32>>;

fn centred(r: u32, c: u32, mu: vec4<f32>) -> vec4<f32> {
  let ok = r < gp.M && c < gp.K;
  let x = X4[select(0u, (r * gp.K + c) / 4u, ok)];
  return select(vec4<f32>(0.0), x - mu, ok);
}
