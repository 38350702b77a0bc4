// The Elman time loops: the equations and their symbols are in rnnkit/kernels/fused_elman.py.
//
// S (T,B,H): the pre-activations A_t in (X_t W_ih^T + b), the states h_t out.
#include "common.h"

template <typename R>
static void elman_fwd(int T, int B, int H, Act act, R* S, const R* W_hh, const R* h0,
                      const uint8_t* mask, const R* rho) {
    const size_t BH = (size_t)B * H;
    R* h_drop = rho ? new R[BH] : nullptr;
    for (int t = 0; t < T; ++t) {
        R* h_t = S + (size_t)t * BH;
        const R* h_prev = t ? h_t - BH : h0;
        mm_nt(B, H, H, dropped(h_prev, rho, BH, h_drop), H, W_hh, H, (R)1, h_t, H);
        act_into(act, h_t, h_t, (int)BH);  // h_t = act(A_t + (rho h_{t-1}) W_hh^T)
        keep_rows(mask ? mask + (size_t)t * B : nullptr, B, H, h_prev, h_t);
    }
    delete[] h_drop;
}

// dh (B,H): gradient of h_T in, of h_0 out. dA (T,B,H) out. work: 2*B*H.
template <typename R>
static void elman_bwd(int T, int B, int H, Act act, const R* S, const R* W_hh,
                      const uint8_t* mask, const R* rho, const R* dout, R* dh, R* dA, R* work) {
    const size_t BH = (size_t)B * H;
    R *D = work, *rec = work + BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        R* dA_t = dA + (size_t)t * BH;
        // dA_t = (dout_t + dh_t) act'(h_t); zero on a kept row, whose dh passes through
        new_state_grad(m, B, H, dh, dout ? dout + (size_t)t * BH : nullptr, dA_t);
        dact_into(act, S + (size_t)t * BH, D, (int)BH);
        for (size_t j = 0; j < BH; ++j) dA_t[j] *= D[j];
        if (rho) {  // dh_{t-1} = rho (dA_t W_hh)
            mm_nn(B, H, H, dA_t, H, W_hh, H, (R)0, rec, H);
            add_dropped(dh, rho, rec, BH);
        } else {
            mm_nn(B, H, H, dA_t, H, W_hh, H, (R)1, dh, H);
        }
    }
}

// Entry points: argument lists as rnnkit.kernels.fused_c.SIGNATURES declares them.
#define ELMAN_EXPORT(R, SUF)                                                                       \
    extern "C" void rnnkit_elman_fwd_##SUF(int T, int B, int H, int ac, double as, R* S,           \
                                           const R* W_hh, const R* h0, const uint8_t* mask,        \
                                           const R* rho) {                                         \
        elman_fwd<R>(T, B, H, Act{ac, as}, S, W_hh, h0, mask, rho);                                \
    }                                                                                              \
    extern "C" void rnnkit_elman_bwd_##SUF(int T, int B, int H, int ac, double as, const R* S,     \
                                           const R* W_hh, const uint8_t* mask, const R* rho,       \
                                           const R* dout, R* dh, R* dA, R* work) {                 \
        elman_bwd<R>(T, B, H, Act{ac, as}, S, W_hh, mask, rho, dout, dh, dA, work);                \
    }
ELMAN_EXPORT(float, f32)
ELMAN_EXPORT(double, f64)
