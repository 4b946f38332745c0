// The covariance Gram kernel for K % 4 == 0: X read as vec4.
#include "lib/gram"
#include "lib/gram_fetch_vec4"
