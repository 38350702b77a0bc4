"""C++ time loops of the fused Elman kernel (see :mod:`rnnkit.kernels.fused_elman`).

Same buffers as the Python loops there; built by :mod:`rnnkit.kernels.fused_c`.
"""

ELMAN_C = r"""
// ---------------------------------------------------------------- Elman
// S (T,B,H): input projection in, h_t out.
template <typename R>
static void elman_fwd(int T, int B, int H, Act aa, R* S, const R* Whh, const R* h0,
                      const uint8_t* mask, const R* rho) {
    const size_t BH = (size_t)B * H;
    R* hd = rho ? new R[BH] : nullptr;
    for (int t = 0; t < T; ++t) {
        R* s = S + (size_t)t * BH;
        const R* hp = t ? s - BH : h0;
        const R* hin = hp;
        if (rho) {
            for (size_t j = 0; j < BH; ++j) hd[j] = hp[j] * rho[j];
            hin = hd;
        }
        mm_nt(B, H, H, hin, H, Whh, H, (R)1, s, H);
        act_into(aa, s, s, (int)BH);
        keep_rows(mask ? mask + (size_t)t * B : nullptr, B, H, hp, s);
    }
    delete[] hd;
}

// dh (B,H): gradient of h_T in, of h_0 out. dA (T,B,H) out. work: 2*B*H.
template <typename R>
static void elman_bwd(int T, int B, int H, Act aa, const R* S, const R* Whh, const uint8_t* mask,
                      const R* rho, const R* dout, R* dh, R* dA, R* work) {
    const size_t BH = (size_t)B * H;
    R *D = work, *rec = work + BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        const R* od = dout ? dout + (size_t)t * BH : nullptr;
        R* da = dA + (size_t)t * BH;
        dact_into(aa, S + (size_t)t * BH, D, (int)BH);
        for (int b = 0; b < B; ++b) {
            R* y = dh + (size_t)b * H;
            R* g = da + (size_t)b * H;
            const R* Db = D + (size_t)b * H;
            if (m && !m[b]) {  // a kept row: its dh passes through
                std::memset(g, 0, sizeof(R) * H);
                continue;
            }
            if (od)
                for (int j = 0; j < H; ++j) g[j] = (y[j] + od[(size_t)b * H + j]) * Db[j];
            else
                for (int j = 0; j < H; ++j) g[j] = y[j] * Db[j];
            std::memset(y, 0, sizeof(R) * H);
        }
        if (rho) {
            mm_nn(B, H, H, da, H, Whh, H, (R)0, rec, H);
            for (size_t j = 0; j < BH; ++j) dh[j] += rho[j] * rec[j];
        } else {
            mm_nn(B, H, H, da, H, Whh, H, (R)1, dh, H);
        }
    }
}

#define ELMAN_EXPORT(R, SUF)                                                                    \
    extern "C" void rnnkit_elman_fwd_##SUF(int T, int B, int H, int ac, double as, R* S,        \
                                           const R* Whh, const R* h0, const uint8_t* mask,      \
                                           const R* rho) {                                      \
        elman_fwd<R>(T, B, H, Act{ac, as}, S, Whh, h0, mask, rho);                              \
    }                                                                                           \
    extern "C" void rnnkit_elman_bwd_##SUF(int T, int B, int H, int ac, double as, const R* S,  \
                                           const R* Whh, const uint8_t* mask, const R* rho,     \
                                           const R* dout, R* dh, R* dA, R* work) {              \
        elman_bwd<R>(T, B, H, Act{ac, as}, S, Whh, mask, rho, dout, dh, dA, work);              \
    }
ELMAN_EXPORT(float, f32)
ELMAN_EXPORT(double, f64)
"""
