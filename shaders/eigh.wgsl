// Symmetric eigendecomposition by parallel two-sided Jacobi (round-robin ordering).
// The matrix is padded to an even order m (a zero row/column for odd n never rotates: its
// off-diagonal entries stay exactly 0). A sweep is m−1 rounds; in round r the m/2 disjoint
// pairs (p, q) of the circle method are rotated at once, in two dispatches: `rotations`
// computes each pair's (c, s) from the current A, `jacobi_round` applies all of them in place
// (one thread per 2×2 block of A and its transpose, which keeps A exactly symmetric, and one per
// row × pair of V). `sweep_end` tests convergence: a sweep that applied no significant rotation
// (every |a_pq| ≤ TOL_CONV·sqrt(|a_pp·a_qq|), after Demmel–Veselić) sets `converged`, after
// which every dispatch returns at once — so no readback is needed. `rank` + `scatter` sort
// ascending and renormalise V's columns.
// flags (u32): [0] a significant rotation happened this sweep, [1] converged, [2] sweeps run,
//              [4 + k] rank of eigenvalue k in ascending order, [4 + n + k] 1/‖V[:, k]‖.
// Every entry point uses the same four storage bindings (phony `_ =` uses where idle) so that
// the auto layout matches one call shape; W is an auxiliary buffer whose role depends on the
// entry point (input, rotations, eigenvalues, eigenvectors).

// Relative threshold below which a_pq is left alone: about one fp32 ulp.
const TOL: f32 = 1.2e-7;
// A sweep whose rotations all had |a_pq| ≤ TOL_CONV·sqrt(|a_pp·a_qq|) leaves off-diagonals of
// order TOL_CONV²/(relative eigenvalue gap) (quadratic convergence): diagonal to fp32 accuracy.
// (Waiting for a sweep with no rotation at all costs one or two more sweeps for nothing.)
const TOL_CONV: f32 = 1e-5;

struct Params { m: u32, n: u32, r: u32, pad: u32 }
@group(0) @binding(0) var<storage, read_write> A: array<f32>;
@group(0) @binding(1) var<storage, read_write> V: array<f32>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> W: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn nonFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

// Pads and symmetrises the input (W, n×n) into A (m×m); V = I; clears the flags.
@compute @workgroup_size(256)
fn init(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flatIndex(gid, nwg);
  let m = p.m;
  let n = p.n;
  if (idx < 4u) { atomicStore(&flags[idx], 0u); }
  if (idx >= m * m) { return; }
  let i = idx / m;
  let j = idx % m;
  var v = 0.0;
  if (i < n && j < n) { v = 0.5 * (W[i * n + j] + W[j * n + i]); }
  A[idx] = v;
  V[idx] = select(0.0, 1.0, i == j);
}

// Pair `a` of round r (circle method: player m−1 stays, the others rotate), as (p, q), p < q.
fn pairOf(a: u32) -> vec2u {
  let mm = p.m - 1u;
  let r = p.r;
  var x: u32;
  var y: u32;
  if (a == 0u) {
    x = r;
    y = mm;
  } else {
    x = (r + a) % mm;
    y = (r + mm - a) % mm;
  }
  return vec2u(min(x, y), max(x, y));
}

// The rotation of every pair of round r, from the current A: W[4a..4a+3] = (c, s, t = s/c,
// 1 if applied else 0). Rotations that annihilate a_pq; skipped when a_pq is negligible.
@compute @workgroup_size(256)
fn rotations(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &V;
  if (atomicLoad(&flags[1]) != 0u) { return; }
  let a = flatIndex(gid, nwg);
  let m = p.m;
  if (a >= m / 2u) { return; }
  let pq = pairOf(a);
  let app = A[pq.x * m + pq.x];
  let aqq = A[pq.y * m + pq.y];
  let apq = A[pq.x * m + pq.y];
  var rot = vec4f(1.0, 0.0, 0.0, 0.0);
  if (nonFinite(app) || nonFinite(aqq) || nonFinite(apq)) {
    // Comparisons with NaN are false, which would silently skip the pair: spread a NaN
    // instead, so non-finite input gives non-finite output. (Built at run time: WGSL rejects a
    // constant NaN.)
    rot = vec4f(bitcast<f32>(0x7fc00000u + min(p.n, 0u)));
  } else if (abs(apq) > TOL * sqrt(abs(app)) * sqrt(abs(aqq))) {
    let theta = (aqq - app) / (2.0 * apq);
    let at = abs(theta);
    var t: f32;
    if (at > 1e18) {
      t = 0.5 / theta; // theta² would overflow; t ≈ 1/(2θ)
    } else {
      t = select(-1.0, 1.0, theta >= 0.0) / (at + sqrt(theta * theta + 1.0));
    }
    // inverseSqrt is only ~2 ulp accurate and its bias would compound over thousands of
    // rotations: one Newton step makes it ~exact.
    let x = t * t + 1.0;
    let y = inverseSqrt(x);
    let c = y * (1.5 - 0.5 * x * y * y);
    rot = vec4f(c, t * c, t, 1.0);
    if (abs(apq) > TOL_CONV * sqrt(abs(app)) * sqrt(abs(aqq))) { atomicStore(&flags[0], 1u); }
  }
  W[4u * a] = rot.x;
  W[4u * a + 1u] = rot.y;
  W[4u * a + 2u] = rot.z;
  W[4u * a + 3u] = rot.w;
}

fn rotationOf(a: u32) -> vec4f {
  return vec4f(W[4u * a], W[4u * a + 1u], W[4u * a + 2u], W[4u * a + 3u]);
}

// Applies round r's rotations in place: A ← Jᵀ·A·J, V ← V·J. Threads [0, h(h+1)/2) own the
// 2×2 blocks (pair a × pair b, a ≤ b) of A and their transposes; the next m·h threads own
// (row i, pair b) of V. Every element is read and written by one thread only.
@compute @workgroup_size(256)
fn jacobi_round(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (atomicLoad(&flags[1]) != 0u) { return; }
  let idx = flatIndex(gid, nwg);
  let m = p.m;
  let h = m / 2u;
  let nA = h * (h + 1u) / 2u;
  if (idx < nA) {
    // idx = b(b+1)/2 + a with a ≤ b; the float estimate of b is fixed up in integers.
    var b = u32((sqrt(8.0 * f32(idx) + 1.0) - 1.0) * 0.5);
    while (b * (b + 1u) / 2u > idx) { b--; }
    while ((b + 1u) * (b + 2u) / 2u <= idx) { b++; }
    let a = idx - b * (b + 1u) / 2u;
    let P = pairOf(a);
    let ra = rotationOf(a);
    if (ra.w == 0.0 && a == b) { return; }
    if (a == b) {
      let apq = A[P.x * m + P.y];
      A[P.x * m + P.x] -= ra.z * apq;
      A[P.y * m + P.y] += ra.z * apq;
      A[P.x * m + P.y] = 0.0;
      A[P.y * m + P.x] = 0.0;
      return;
    }
    let Q = pairOf(b);
    let rb = rotationOf(b);
    if (ra.w == 0.0 && rb.w == 0.0) { return; }
    let m00 = A[P.x * m + Q.x];
    let m01 = A[P.x * m + Q.y];
    let m10 = A[P.y * m + Q.x];
    let m11 = A[P.y * m + Q.y];
    // Rows: Jaᵀ·M.
    let r00 = ra.x * m00 - ra.y * m10;
    let r01 = ra.x * m01 - ra.y * m11;
    let r10 = ra.y * m00 + ra.x * m10;
    let r11 = ra.y * m01 + ra.x * m11;
    // Columns: (Jaᵀ·M)·Jb.
    let o00 = rb.x * r00 - rb.y * r01;
    let o01 = rb.y * r00 + rb.x * r01;
    let o10 = rb.x * r10 - rb.y * r11;
    let o11 = rb.y * r10 + rb.x * r11;
    A[P.x * m + Q.x] = o00;
    A[P.x * m + Q.y] = o01;
    A[P.y * m + Q.x] = o10;
    A[P.y * m + Q.y] = o11;
    A[Q.x * m + P.x] = o00;
    A[Q.y * m + P.x] = o01;
    A[Q.x * m + P.y] = o10;
    A[Q.y * m + P.y] = o11;
    return;
  }
  let v = idx - nA;
  if (v >= m * h) { return; }
  let i = v / h;
  let b = v % h;
  let rb = rotationOf(b);
  if (rb.w == 0.0) { return; }
  let Q = pairOf(b);
  let vp = V[i * m + Q.x];
  let vq = V[i * m + Q.y];
  V[i * m + Q.x] = rb.x * vp - rb.y * vq;
  V[i * m + Q.y] = rb.y * vp + rb.x * vq;
}

// Convergence bookkeeping after a sweep: converged if no rotation was applied.
@compute @workgroup_size(1)
fn sweep_end() {
  _ = &A;
  _ = &V;
  _ = &W;
  if (atomicLoad(&flags[1]) == 0u) {
    atomicAdd(&flags[2], 1u);
    if (atomicLoad(&flags[0]) == 0u) { atomicStore(&flags[1], 1u); }
  }
  atomicStore(&flags[0], 0u);
}

// Total order on f32 bit patterns (NaNs included), so ranks always form a permutation.
fn sortKey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Eigenvalue k (diagonal of A) goes to W[rank k]; the rank is kept in flags[4 + k] and the
// reciprocal norm of column k of V in flags[4 + n + k]. (Rounding makes each fp32 rotation
// slightly non-orthogonal; over thousands of rotations the column norms random-walk by ~1e-5
// while the columns stay orthogonal to ~1e-6, so renormalising is all V needs.)
@compute @workgroup_size(256)
fn rank(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = flatIndex(gid, nwg);
  let n = p.n;
  let m = p.m;
  if (k >= n) { return; }
  let dk = A[k * m + k];
  let key = sortKey(dk);
  var r = 0u;
  for (var j = 0u; j < n; j++) {
    let kj = sortKey(A[j * m + j]);
    if (kj < key || (kj == key && j < k)) { r++; }
  }
  W[r] = dk;
  atomicStore(&flags[4u + k], r);
  var ss = 0.0;
  for (var i = 0u; i < n; i++) {
    let x = V[i * m + k];
    ss += x * x;
  }
  atomicStore(&flags[4u + n + k], bitcast<u32>(1.0 / sqrt(ss)));
}

// Column k of V (first n rows), normalised, goes to column rank(k) of W (n×n).
@compute @workgroup_size(256)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &A;
  let idx = flatIndex(gid, nwg);
  let n = p.n;
  if (idx >= n * n) { return; }
  let i = idx / n;
  let k = idx % n;
  let scale = bitcast<f32>(atomicLoad(&flags[4u + n + k]));
  W[i * n + atomicLoad(&flags[4u + k])] = V[i * p.m + k] * scale;
}
