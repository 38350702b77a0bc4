"""C++ time loops of the fused Jordan/Elman/output-recurrence kernel (see
:mod:`rnnkit.kernels.fused_jordan`). Same buffers as the Python loops there; built by
:mod:`rnnkit.kernels.fused_c`.
"""

JORDAN_C = r"""
// ---------------------------------------------------------------- Jordan
// AH (T,B,H): input projection in, h_t out. AY (T,B,O): y_t out. Absent weights are null.
// work: B*(H+O).
template <typename R>
static void jordan_fwd(int T, int B, int H, int O, Act ah, Act ay, R* AH, R* AY, const R* Whh,
                       const R* Wyh, const R* Why, const R* by, const R* Wyy, const R* y0,
                       const R* h0, const uint8_t* mask, const R* rho_y, const R* rho_h,
                       R* work) {
    const size_t BH = (size_t)B * H, BO = (size_t)B * O;
    R *hd = work, *yd = work + BH;
    for (int t = 0; t < T; ++t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        R* a = AH + (size_t)t * BH;
        R* o = AY + (size_t)t * BO;
        const R* hp = t ? a - BH : h0;
        const R* yp = t ? o - BO : y0;
        const R *hin = hp, *yin = yp;
        if (rho_h) {
            for (size_t j = 0; j < BH; ++j) hd[j] = hp[j] * rho_h[j];
            hin = hd;
        }
        if (rho_y) {
            for (size_t j = 0; j < BO; ++j) yd[j] = yp[j] * rho_y[j];
            yin = yd;
        }
        if (Whh) mm_nt(B, H, H, hin, H, Whh, H, (R)1, a, H);
        if (Wyh) mm_nt(B, H, O, yin, O, Wyh, O, (R)1, a, H);
        act_into(ah, a, a, (int)BH);
        keep_rows(m, B, H, hp, a);
        if (by)
            for (int b = 0; b < B; ++b) std::memcpy(o + (size_t)b * O, by, sizeof(R) * O);
        mm_nt(B, O, H, a, H, Why, H, by ? (R)1 : (R)0, o, O);
        if (Wyy) mm_nt(B, O, O, yin, O, Wyy, O, (R)1, o, O);
        act_into(ay, o, o, (int)BO);
        keep_rows(m, B, O, yp, o);
    }
}

// The gradient of the new state of row b: m ? carried + extra : 0; the carry keeps a kept row's.
template <typename R>
static inline void take_new(const uint8_t* m, int B, int n, R* carry, const R* extra, R* out) {
    for (int b = 0; b < B; ++b) {
        R* x = out + (size_t)b * n;
        R* y = carry + (size_t)b * n;
        if (m && !m[b]) {
            std::memset(x, 0, sizeof(R) * n);
            continue;
        }
        if (extra)
            for (int j = 0; j < n; ++j) x[j] = y[j] + extra[(size_t)b * n + j];
        else
            std::memcpy(x, y, sizeof(R) * n);
        std::memset(y, 0, sizeof(R) * n);
    }
}

// dy (B,O), dh (B,H): gradients of the final state in, of the initial state out.
// dout (T,B,O), dhs (T,B,H) or null. dA (T,B,H), dB (T,B,O) out. work: 2*B*(H+O).
template <typename R>
static void jordan_bwd(int T, int B, int H, int O, Act ah, Act ay, const R* AH, const R* AY,
                       const R* Whh, const R* Wyh, const R* Why, const R* by, const R* Wyy,
                       const uint8_t* mask, const R* rho_y, const R* rho_h, const R* dout,
                       const R* dhs, R* dy, R* dh, R* dA, R* dB, R* work) {
    (void)by;
    const size_t BH = (size_t)B * H, BO = (size_t)B * O;
    R *dhn = work, *dyn = work + BH, *rec_h = dyn + BO, *rec_y = rec_h + BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        R* da = dA + (size_t)t * BH;
        R* db = dB + (size_t)t * BO;
        take_new(m, B, O, dy, dout ? dout + (size_t)t * BO : nullptr, dyn);
        take_new(m, B, H, dh, dhs ? dhs + (size_t)t * BH : nullptr, dhn);
        dact_into(ay, AY + (size_t)t * BO, db, (int)BO);
        for (size_t j = 0; j < BO; ++j) db[j] *= dyn[j];
        mm_nn(B, H, O, db, O, Why, H, (R)1, dhn, H);
        dact_into(ah, AH + (size_t)t * BH, da, (int)BH);
        for (size_t j = 0; j < BH; ++j) da[j] *= dhn[j];
        if (Wyh || Wyy) {
            if (Wyh) mm_nn(B, O, H, da, H, Wyh, O, (R)0, rec_y, O);
            if (Wyy) mm_nn(B, O, O, db, O, Wyy, O, Wyh ? (R)1 : (R)0, rec_y, O);
            for (size_t j = 0; j < BO; ++j) dy[j] += rho_y ? rho_y[j] * rec_y[j] : rec_y[j];
        }
        if (Whh) {
            mm_nn(B, H, H, da, H, Whh, H, (R)0, rec_h, H);
            for (size_t j = 0; j < BH; ++j) dh[j] += rho_h ? rho_h[j] * rec_h[j] : rec_h[j];
        }
    }
}

#define JORDAN_EXPORT(R, SUF)                                                                    \
    extern "C" void rnnkit_jordan_fwd_##SUF(                                                     \
        int T, int B, int H, int O, int hc, double hs, int yc, double ys, R* AH, R* AY,          \
        const R* Whh, const R* Wyh, const R* Why, const R* by, const R* Wyy, const R* y0,        \
        const R* h0, const uint8_t* mask, const R* rho_y, const R* rho_h, R* work) {             \
        jordan_fwd<R>(T, B, H, O, Act{hc, hs}, Act{yc, ys}, AH, AY, Whh, Wyh, Why, by, Wyy, y0,  \
                      h0, mask, rho_y, rho_h, work);                                             \
    }                                                                                            \
    extern "C" void rnnkit_jordan_bwd_##SUF(                                                     \
        int T, int B, int H, int O, int hc, double hs, int yc, double ys, const R* AH,           \
        const R* AY, const R* Whh, const R* Wyh, const R* Why, const R* by, const R* Wyy,        \
        const uint8_t* mask, const R* rho_y, const R* rho_h, const R* dout, const R* dhs,        \
        R* dy, R* dh, R* dA, R* dB, R* work) {                                                   \
        jordan_bwd<R>(T, B, H, O, Act{hc, hs}, Act{yc, ys}, AH, AY, Whh, Wyh, Why, by, Wyy,      \
                      mask, rho_y, rho_h, dout, dhs, dy, dh, dA, dB, work);                      \
    }
JORDAN_EXPORT(float, f32)
JORDAN_EXPORT(double, f64)
"""
