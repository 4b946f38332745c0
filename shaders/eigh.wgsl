// Symmetric eigendecomposition by parallel two-sided Jacobi (round-robin ordering).
// The matrix is padded to an even order m (a zero row/column for odd n never rotates: its
// off-diagonal entries stay exactly 0). A sweep is m−1 rounds; in round r the m/2 disjoint
// pairs (p, q) of the circle method are rotated at once. A round reads A_in and writes A_out
// (ping-pong A0 → A1 → A0 …): every thread rebuilds the rotations it needs from A_in, so no
// separate "compute angles" dispatch is needed. One thread owns a 2×2 block (pair a × pair b,
// a ≤ b) and writes it and its transpose, which keeps A exactly symmetric; V ← V·J in place.
// The sweep-end kernel copies A1 back to A0 (m−1 is odd) and tests convergence: a sweep that
// applied no rotation (every |a_pq| ≤ TOL·sqrt(|a_pp·a_qq|), the Demmel–Veselić test) sets
// `converged` and every later dispatch returns at once — no readback is needed.
// flags (u32): [0] a rotation happened this sweep, [1] converged, [2] sweeps run,
//              [4 + k] rank of eigenvalue k in ascending order, [4 + n + k] 1/‖V[:, k]‖.
// Every entry point uses the same five storage bindings (phony `_ =` uses where idle) so that
// the auto layout matches one call shape.

// Relative threshold below which a_pq is left alone: about one fp32 ulp.
const TOL: f32 = 1.2e-7;

struct Params { m: u32, n: u32, r: u32, pad: u32 }
@group(0) @binding(0) var<storage, read_write> A0: array<f32>;
@group(0) @binding(1) var<storage, read_write> A1: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> W: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

// Pads and symmetrises the input (W, n×n) into A0 (m×m); V = I; clears the flags.
@compute @workgroup_size(256)
fn init(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &A1;
  let idx = flatIndex(gid, nwg);
  let m = p.m;
  let n = p.n;
  if (idx < 4u) { atomicStore(&flags[idx], 0u); }
  if (idx >= m * m) { return; }
  let i = idx / m;
  let j = idx % m;
  var v = 0.0;
  if (i < n && j < n) { v = 0.5 * (W[i * n + j] + W[j * n + i]); }
  A0[idx] = v;
  V[idx] = select(0.0, 1.0, i == j);
}

fn ldIn(i: u32) -> f32 {
  if ((p.r & 1u) == 0u) { return A0[i]; }
  return A1[i];
}

fn stOut(i: u32, v: f32) {
  if ((p.r & 1u) == 0u) { A1[i] = v; } else { A0[i] = v; }
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

// Jacobi rotation that annihilates a_pq: (c, s, t = s/c, 1 if applied else 0).
fn rotation(pq: vec2u) -> vec4f {
  let m = p.m;
  let app = ldIn(pq.x * m + pq.x);
  let aqq = ldIn(pq.y * m + pq.y);
  let apq = ldIn(pq.x * m + pq.y);
  if (abs(apq) <= TOL * sqrt(abs(app)) * sqrt(abs(aqq))) { return vec4f(1.0, 0.0, 0.0, 0.0); }
  let theta = (aqq - app) / (2.0 * apq);
  let at = abs(theta);
  var t: f32;
  if (at > 1e18) {
    t = 0.5 / theta; // theta² would overflow; t ≈ 1/(2θ)
  } else {
    t = select(-1.0, 1.0, theta >= 0.0) / (at + sqrt(theta * theta + 1.0));
  }
  // inverseSqrt is only ~2 ulp accurate and its bias would compound over thousands of
  // rotations (column norms of V drifting by ~1e-4): one Newton step makes it ~exact.
  let x = t * t + 1.0;
  let y = inverseSqrt(x);
  let c = y * (1.5 - 0.5 * x * y * y);
  return vec4f(c, t * c, t, 1.0);
}

@compute @workgroup_size(256)
fn jacobi_round(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &W;
  if (atomicLoad(&flags[1]) != 0u) { return; }
  let idx = flatIndex(gid, nwg);
  let m = p.m;
  let h = m / 2u;
  let nA = h * h;
  if (idx < nA) {
    let a = idx / h;
    let b = idx % h;
    if (a > b) { return; }
    let P = pairOf(a);
    let ra = rotation(P);
    if (a == b) {
      let app = ldIn(P.x * m + P.x);
      let aqq = ldIn(P.y * m + P.y);
      let apq = ldIn(P.x * m + P.y);
      if (ra.w != 0.0) {
        stOut(P.x * m + P.x, app - ra.z * apq);
        stOut(P.y * m + P.y, aqq + ra.z * apq);
        stOut(P.x * m + P.y, 0.0);
        stOut(P.y * m + P.x, 0.0);
        atomicStore(&flags[0], 1u);
      } else {
        stOut(P.x * m + P.x, app);
        stOut(P.y * m + P.y, aqq);
        stOut(P.x * m + P.y, apq);
        stOut(P.y * m + P.x, apq);
      }
      return;
    }
    let Q = pairOf(b);
    let rb = rotation(Q);
    let m00 = ldIn(P.x * m + Q.x);
    let m01 = ldIn(P.x * m + Q.y);
    let m10 = ldIn(P.y * m + Q.x);
    let m11 = ldIn(P.y * m + Q.y);
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
    stOut(P.x * m + Q.x, o00);
    stOut(P.x * m + Q.y, o01);
    stOut(P.y * m + Q.x, o10);
    stOut(P.y * m + Q.y, o11);
    stOut(Q.x * m + P.x, o00);
    stOut(Q.y * m + P.x, o01);
    stOut(Q.x * m + P.y, o10);
    stOut(Q.y * m + P.y, o11);
    return;
  }
  let v = idx - nA;
  if (v >= m * h) { return; }
  let i = v / h;
  let Q = pairOf(v % h);
  let rb = rotation(Q);
  if (rb.w == 0.0) { return; }
  let vp = V[i * m + Q.x];
  let vq = V[i * m + Q.y];
  V[i * m + Q.x] = rb.x * vp - rb.y * vq;
  V[i * m + Q.y] = rb.y * vp + rb.x * vq;
}

// A0 ← A1 (a sweep has an odd number of rounds) and the convergence bookkeeping. After
// convergence the rounds leave A1 alone and A0 already equals it, so the copy stays correct.
@compute @workgroup_size(256)
fn sweep_end(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &V;
  _ = &W;
  let idx = flatIndex(gid, nwg);
  if (idx == 0u) {
    if (atomicLoad(&flags[1]) == 0u) {
      atomicAdd(&flags[2], 1u);
      if (atomicLoad(&flags[0]) == 0u) { atomicStore(&flags[1], 1u); }
    }
    atomicStore(&flags[0], 0u);
  }
  if (idx < p.m * p.m) { A0[idx] = A1[idx]; }
}

// Total order on f32 bit patterns (NaNs included), so ranks always form a permutation.
fn sortKey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Eigenvalue k (diagonal of A0) goes to W[rank k]; the rank is kept in flags[4 + k] and the
// reciprocal norm of column k of V in flags[4 + n + k]. (Rounding makes each fp32 rotation
// slightly non-orthogonal; over thousands of rotations the column norms random-walk by ~1e-5
// while the columns stay orthogonal to ~1e-6, so renormalising is all V needs.)
@compute @workgroup_size(256)
fn rank(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  _ = &A1;
  let k = flatIndex(gid, nwg);
  let n = p.n;
  let m = p.m;
  if (k >= n) { return; }
  let dk = A0[k * m + k];
  let key = sortKey(dk);
  var r = 0u;
  for (var j = 0u; j < n; j++) {
    let kj = sortKey(A0[j * m + j]);
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
  _ = &A0;
  _ = &A1;
  let idx = flatIndex(gid, nwg);
  let n = p.n;
  if (idx >= n * n) { return; }
  let i = idx / n;
  let k = idx % n;
  let scale = bitcast<f32>(atomicLoad(&flags[4u + n + k]));
  W[i * n + atomicLoad(&flags[4u + k])] = V[i * p.m + k] * scale;
}
