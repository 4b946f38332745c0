// Y = X·Wᵀ (+ b) for K % 4 == 0: X and W read as vec4 (every row starts 16-byte aligned).
#include "lib/linear"
#include "lib/linear_fetch_vec4"
