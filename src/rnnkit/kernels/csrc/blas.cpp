// The BLAS entry points the loops call, handed over by rnnkit.kernels.fused_c after loading.
#include "common.h"

gemm_f rnnkit_sgemm = nullptr;
gemm_d rnnkit_dgemm = nullptr;

extern "C" void rnnkit_set_blas(void* s, void* d) {
    rnnkit_sgemm = (gemm_f)s;
    rnnkit_dgemm = (gemm_d)d;
}
