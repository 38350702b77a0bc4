// The Jordan/Elman/output-recurrence time loops: the equations and their symbols are in
// rnnkit/kernels/fused_jordan.py.
//
// AH (T,B,H): the hidden pre-activations A_t in (X_t W_ih^T + b), h_t out. AY (T,B,O): y_t out.
// Absent weights are null.
#include "common.h"

// work: B*(H+O).
template <typename R>
static void jordan_fwd(int T, int B, int H, int O, Act act, Act act_o, R* AH, R* AY, const R* W_hh,
                       const R* W_yh, const R* W_hy, const R* b_y, const R* W_yy, const R* y0,
                       const R* h0, const uint8_t* mask, const R* rho_y, const R* rho_h,
                       R* work) {
    const size_t BH = (size_t)B * H, BO = (size_t)B * O;
    R *h_drop = work, *y_drop = work + BH;
    for (int t = 0; t < T; ++t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        R* h_t = AH + (size_t)t * BH;  // A_t in, h_t out
        R* y_t = AY + (size_t)t * BO;  // B_t, then y_t
        const R* h_prev = t ? h_t - BH : h0;
        const R* y_prev = t ? y_t - BO : y0;
        const R* h_in = dropped(h_prev, rho_h, BH, h_drop);  // h~
        const R* y_in = dropped(y_prev, rho_y, BO, y_drop);  // y~
        if (W_hh) mm_nt(B, H, H, h_in, H, W_hh, H, (R)1, h_t, H);
        if (W_yh) mm_nt(B, H, O, y_in, O, W_yh, O, (R)1, h_t, H);
        act_into(act, h_t, h_t, (int)BH);  // h_t = act(A_t)
        keep_rows(m, B, H, h_prev, h_t);
        if (b_y)
            for (int b = 0; b < B; ++b) std::memcpy(y_t + (size_t)b * O, b_y, sizeof(R) * O);
        mm_nt(B, O, H, h_t, H, W_hy, H, b_y ? (R)1 : (R)0, y_t, O);
        if (W_yy) mm_nt(B, O, O, y_in, O, W_yy, O, (R)1, y_t, O);
        act_into(act_o, y_t, y_t, (int)BO);  // y_t = act_o(B_t)
        keep_rows(m, B, O, y_prev, y_t);
    }
}

// dy (B,O), dh (B,H): gradients of the final state in, of the initial state out.
// dout (T,B,O), dhs (T,B,H) or null. dA (T,B,H), dB (T,B,O) out. work: 2*B*(H+O).
template <typename R>
static void jordan_bwd(int T, int B, int H, int O, Act act, Act act_o, const R* AH, const R* AY,
                       const R* W_hh, const R* W_yh, const R* W_hy, const R* b_y, const R* W_yy,
                       const uint8_t* mask, const R* rho_y, const R* rho_h, const R* dout,
                       const R* dhs, R* dy, R* dh, R* dA, R* dB, R* work) {
    (void)b_y;
    const size_t BH = (size_t)B * H, BO = (size_t)B * O;
    R *dh_new = work, *dy_new = work + BH, *rec_h = dy_new + BO, *rec_y = rec_h + BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        R* dA_t = dA + (size_t)t * BH;
        R* dB_t = dB + (size_t)t * BO;
        new_state_grad(m, B, O, dy, dout ? dout + (size_t)t * BO : nullptr, dy_new);
        new_state_grad(m, B, H, dh, dhs ? dhs + (size_t)t * BH : nullptr, dh_new);
        dact_into(act_o, AY + (size_t)t * BO, dB_t, (int)BO);
        for (size_t j = 0; j < BO; ++j) dB_t[j] *= dy_new[j];
        mm_nn(B, H, O, dB_t, O, W_hy, H, (R)1, dh_new, H);
        dact_into(act, AH + (size_t)t * BH, dA_t, (int)BH);
        for (size_t j = 0; j < BH; ++j) dA_t[j] *= dh_new[j];
        if (W_yh || W_yy) {
            if (W_yh) mm_nn(B, O, H, dA_t, H, W_yh, O, (R)0, rec_y, O);
            if (W_yy) mm_nn(B, O, O, dB_t, O, W_yy, O, W_yh ? (R)1 : (R)0, rec_y, O);
            add_dropped(dy, rho_y, rec_y, BO);
        }
        if (W_hh) {
            mm_nn(B, H, H, dA_t, H, W_hh, H, (R)0, rec_h, H);
            add_dropped(dh, rho_h, rec_h, BH);
        }
    }
}

// Entry points: argument lists as rnnkit.kernels.fused_c.SIGNATURES declares them.
#define JORDAN_EXPORT(R, SUF)                                                                      \
    extern "C" void rnnkit_jordan_fwd_##SUF(                                                       \
        int T, int B, int H, int O, int hc, double hs, int yc, double ys, R* AH, R* AY,            \
        const R* W_hh, const R* W_yh, const R* W_hy, const R* b_y, const R* W_yy, const R* y0,     \
        const R* h0, const uint8_t* mask, const R* rho_y, const R* rho_h, R* work) {               \
        jordan_fwd<R>(T, B, H, O, Act{hc, hs}, Act{yc, ys}, AH, AY, W_hh, W_yh, W_hy, b_y, W_yy,   \
                      y0, h0, mask, rho_y, rho_h, work);                                           \
    }                                                                                              \
    extern "C" void rnnkit_jordan_bwd_##SUF(                                                       \
        int T, int B, int H, int O, int hc, double hs, int yc, double ys, const R* AH,             \
        const R* AY, const R* W_hh, const R* W_yh, const R* W_hy, const R* b_y, const R* W_yy,     \
        const uint8_t* mask, const R* rho_y, const R* rho_h, const R* dout, const R* dhs,          \
        R* dy, R* dh, R* dA, R* dB, R* work) {                                                     \
        jordan_bwd<R>(T, B, H, O, Act{hc, hs}, Act{yc, ys}, AH, AY, W_hh, W_yh, W_hy, b_y, W_yy,   \
                      mask, rho_y, rho_h, dout, dhs, dy, dh, dA, dB, work);                        \
    }
JORDAN_EXPORT(float, f32)
JORDAN_EXPORT(double, f64)
