// The covariance Gram kernel for any K: X read as f32.
#include "lib/gram"
#include "lib/gram_fetch_scalar"
