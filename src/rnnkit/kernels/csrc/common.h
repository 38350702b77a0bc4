// What the compiled time loops share: BLAS GEMM through function pointers, the activations by code,
// and the per-step helpers for masks and recurrent dropout. No torch headers: each family's .cpp
// is its own translation unit; rnnkit.kernels.fused_c compiles them with blas.cpp into one library.
//
// Names follow the Python docstrings: T steps, B batch, H hidden, R (template) the real type.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#define RS __restrict__

typedef void (*gemm_f)(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*,
                       const int*);
typedef void (*gemm_d)(const char*, const char*, const int*, const int*, const int*, const double*,
                       const double*, const int*, const double*, const int*, const double*, double*,
                       const int*);
// sgemm_/dgemm_ of the BLAS that libtorch_cpu exports; set once by rnnkit_set_blas (blas.cpp).
extern gemm_f rnnkit_sgemm;
extern gemm_d rnnkit_dgemm;

static inline void gemm(const char* ta, const char* tb, int m, int n, int k, const float* a,
                        int lda, const float* b, int ldb, float beta, float* c, int ldc) {
    const float one = 1.0f;
    rnnkit_sgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}
static inline void gemm(const char* ta, const char* tb, int m, int n, int k, const double* a,
                        int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    const double one = 1.0;
    rnnkit_dgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}
// Row-major helpers. C (M x N, ldc) = X (M x K, ldx) @ W^T + beta C, with W (N x K, ldw).
template <typename R>
static inline void mm_nt(int M, int N, int K, const R* X, int ldx, const R* W, int ldw, R beta,
                         R* C, int ldc) {
    if (M && N) gemm("T", "N", N, M, K, W, ldw, X, ldx, beta, C, ldc);
}
// C (M x N, ldc) = X (M x K, ldx) @ W + beta C, with W (K x N, ldw).
template <typename R>
static inline void mm_nn(int M, int N, int K, const R* X, int ldx, const R* W, int ldw, R beta,
                         R* C, int ldc) {
    if (M && N) gemm("N", "N", N, M, K, W, ldw, X, ldx, beta, C, ldc);
}

// exp: Cephes expf for float (vectorisable), libm for double.
static inline float fexp(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    std::memcpy(&s, &e, 4);
    return p * s;
}
static inline float sigm(float x) { return 1.0f / (1.0f + fexp(-x)); }
static inline double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
static inline float tanhr(float x) {
    float e = fexp(-2.0f * std::fabs(x));
    return std::copysign((1.0f - e) / (1.0f + e), x);
}
static inline double tanhr(double x) { return std::tanh(x); }

// Activations by code (rnnkit.kernels.fused_c.act_code): y = f(x) and dy/dx from y.
enum { A_ID = 0, A_TANH = 1, A_SIGMOID = 2, A_RELU = 3, A_SOFTSIGN = 4, A_HARD = 5 };
struct Act { int code; double slope; };

template <typename R>
static void act_into(Act a, const R* x, R* y, int n) {
    const R s = (R)a.slope;
    switch (a.code) {
    case A_TANH: for (int j = 0; j < n; ++j) y[j] = tanhr(x[j]); break;
    case A_SIGMOID: for (int j = 0; j < n; ++j) y[j] = sigm(x[j]); break;
    case A_RELU: for (int j = 0; j < n; ++j) y[j] = x[j] > 0 ? x[j] : (R)0; break;
    case A_SOFTSIGN: for (int j = 0; j < n; ++j) y[j] = x[j] / (1 + std::fabs(x[j])); break;
    case A_HARD:
        for (int j = 0; j < n; ++j) {
            R v = x[j] * s + (R)0.5;
            y[j] = v < 0 ? (R)0 : (v > 1 ? (R)1 : v);
        }
        break;
    default: if (x != y) std::memcpy(y, x, sizeof(R) * n);
    }
}
template <typename R>
static void dact_into(Act a, const R* y, R* d, int n) {
    const R s = (R)a.slope;
    switch (a.code) {
    case A_TANH: for (int j = 0; j < n; ++j) d[j] = 1 - y[j] * y[j]; break;
    case A_SIGMOID: for (int j = 0; j < n; ++j) d[j] = y[j] * (1 - y[j]); break;
    case A_RELU: for (int j = 0; j < n; ++j) d[j] = y[j] > 0 ? (R)1 : (R)0; break;
    case A_SOFTSIGN:
        for (int j = 0; j < n; ++j) { R u = 1 - std::fabs(y[j]); d[j] = u * u; }
        break;
    case A_HARD: for (int j = 0; j < n; ++j) d[j] = (y[j] > 0 && y[j] < 1) ? s : (R)0; break;
    default: for (int j = 0; j < n; ++j) d[j] = 1;
    }
}
// dst = keep ? dst : src, row by row: rows past their length keep their state.
template <typename R>
static inline void keep_rows(const uint8_t* m, int B, int n, const R* prev, R* dst) {
    if (!m) return;
    for (int b = 0; b < B; ++b)
        if (!m[b]) std::memcpy(dst + (size_t)b * n, prev + (size_t)b * n, sizeof(R) * n);
}

// The state entering a step as the recurrent GEMM sees it: h itself, or rho * h written into buf.
template <typename R>
static inline const R* dropped(const R* h, const R* rho, size_t n, R* buf) {
    if (!rho) return h;
    for (size_t j = 0; j < n; ++j) buf[j] = h[j] * rho[j];
    return buf;
}
// dh += rho * rec (rec alone without dropout): the recurrent part of dh_{t-1}.
template <typename R>
static inline void add_dropped(R* dh, const R* rho, const R* rec, size_t n) {
    if (rho)
        for (size_t j = 0; j < n; ++j) dh[j] += rho[j] * rec[j];
    else
        for (size_t j = 0; j < n; ++j) dh[j] += rec[j];
}
// The gradient reaching the new state of each row b: out = carry + dout on a row within its
// length (then carry = 0); out = 0 on a kept row, whose carry passes through to step t-1.
template <typename R>
static inline void new_state_grad(const uint8_t* m, int B, int n, R* carry, const R* dout, R* out) {
    for (int b = 0; b < B; ++b) {
        R* x = out + (size_t)b * n;
        R* y = carry + (size_t)b * n;
        if (m && !m[b]) {
            std::memset(x, 0, sizeof(R) * n);
            continue;
        }
        if (dout)
            for (int j = 0; j < n; ++j) x[j] = y[j] + dout[(size_t)b * n + j];
        else
            std::memcpy(x, y, sizeof(R) * n);
        std::memset(y, 0, sizeof(R) * n);
    }
}
