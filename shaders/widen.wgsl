// f16/bf16 → f32 widening of checkpoint weights uploaded as their raw 16-bit words, two to a u32
// (element 2w in the low half of word w). One invocation per word. Done with integer bit
// operations rather than unpack2x16float: WGSL lets an implementation flush f16 subnormals and
// leaves infinities and NaN indeterminate there, while the widened values must be bit for bit what
// the host's conversion gives (the CPU twin). The output is written as f32 bits.
override WG: u32; // threads per workgroup, set by the host
override BF16: u32 = 0u; // 1: bfloat16 words; 0: IEEE half
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn f16Bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 31u) {
    // The host's table stores every f16 NaN as the one quiet NaN a Float32Array holds.
    if (m != 0u) { return 0x7fc00000u; }
    return sign | 0x7f800000u;
  }
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  // Subnormal m·2^-24: normal in f32, its leading bit becomes the implicit one.
  let top = firstLeadingBit(m);
  return sign | ((top + 103u) << 23u) | ((m << (23u - top)) & 0x7fffffu);
}

fn widen(h: u32) -> u32 {
  if (BF16 == 1u) { return h << 16u; }
  return f16Bits(h);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (2u * w >= p.n) { return; }
  let x = src[w];
  dst[2u * w] = widen(x & 0xffffu);
  if (2u * w + 1u < p.n) { dst[2u * w + 1u] = widen(x >> 16u); }
}
