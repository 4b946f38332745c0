// Y = X·Wᵀ (+ b) for any K: X and W read as f32.
#include "lib/linear"
#include "lib/linear_fetch_scalar"
