"""C++ time loops of the fused GRU (see :mod:`rnnkit.kernels.fused_gru` for the equations).

Same buffers as the Python loops there; built by :mod:`rnnkit.kernels.fused_c`.
"""

GRU_C = r"""
// ---------------------------------------------------------------- GRU
// A (T,B,3H): input projection in, gate values r, z, n out. U (T,B,H): U_n (reset after) or
// q = r h~ (reset before). S (T,B,H): h_t. work: 4*B*H.
template <typename R>
static void gru_fwd(int T, int B, int H, int after, Act sa, Act aa, R* A, const R* Whh,
                    const R* bhn, const R* h0, const uint8_t* mask, const R* rho, R* U, R* S,
                    R* work) {
    const int H3 = 3 * H;
    R* hd = work;
    R* uh = work + (size_t)B * H;
    for (int t = 0; t < T; ++t) {
        R* a = A + (size_t)t * B * H3;
        R* u = U + (size_t)t * B * H;
        R* s = S + (size_t)t * B * H;
        const R* hp = t ? S + (size_t)(t - 1) * B * H : h0;
        const R* hin = hp;
        if (rho) {
            for (size_t j = 0; j < (size_t)B * H; ++j) hd[j] = hp[j] * rho[j];
            hin = hd;
        }
        if (after) {
            mm_nt(B, H3, H, hin, H, Whh, H, (R)0, uh, H3);
            for (int b = 0; b < B; ++b) {
                R* ab = a + (size_t)b * H3;
                const R* ub = uh + (size_t)b * H3;
                R* unb = u + (size_t)b * H;
                for (int j = 0; j < 2 * H; ++j) ab[j] += ub[j];
                act_into(sa, ab, ab, 2 * H);
                if (bhn)
                    for (int j = 0; j < H; ++j) unb[j] = ub[2 * H + j] + bhn[j];
                else
                    std::memcpy(unb, ub + 2 * H, sizeof(R) * H);
                for (int j = 0; j < H; ++j) ab[2 * H + j] += ab[j] * unb[j];
                act_into(aa, ab + 2 * H, ab + 2 * H, H);
            }
        } else {
            mm_nt(B, 2 * H, H, hin, H, Whh, H, (R)1, a, H3);
            for (int b = 0; b < B; ++b) {
                R* ab = a + (size_t)b * H3;
                act_into(sa, ab, ab, 2 * H);
                const R* hb = hin + (size_t)b * H;
                R* qb = u + (size_t)b * H;
                for (int j = 0; j < H; ++j) qb[j] = ab[j] * hb[j];
            }
            mm_nt(B, H, H, u, H, Whh + (size_t)2 * H * H, H, (R)1, a + 2 * H, H3);
            for (int b = 0; b < B; ++b) act_into(aa, a + (size_t)b * H3 + 2 * H, a + (size_t)b * H3 + 2 * H, H);
        }
        for (int b = 0; b < B; ++b) {
            const R* ab = a + (size_t)b * H3;
            const R* hb = hp + (size_t)b * H;
            R* sb = s + (size_t)b * H;
            for (int j = 0; j < H; ++j) sb[j] = ab[2 * H + j] + ab[H + j] * (hb[j] - ab[2 * H + j]);
        }
        keep_rows(mask ? mask + (size_t)t * B : nullptr, B, H, hp, s);
    }
}

// dn, dz (and with reset-after dr, dn r) of one row; adds dh z to the carried gradient.
template <typename R, bool AFTER>
static inline void gru_bwd_row(int H, const R* RS ab, const R* RS ub, const R* RS hb,
                               const R* RS D, const R* RS dhb, R* RS carry, R* RS dgb,
                               R* RS dnb) {
    const R *r = ab, *z = ab + H, *n = ab + 2 * H;
    const R *Dr = D, *Dz = D + H, *Dn = D + 2 * H;
    for (int j = 0; j < H; ++j) {
        R dn = dhb[j] * (1 - z[j]) * Dn[j];
        dnb[j] = dn;
        dgb[H + j] = dhb[j] * (hb[j] - n[j]) * Dz[j];
        if (AFTER) {
            dgb[j] = dn * ub[j] * Dr[j];
            dgb[2 * H + j] = dn * r[j];
        } else {
            dgb[2 * H + j] = dn;
        }
        carry[j] += dhb[j] * z[j];
    }
}

// dh (B,H): gradient of h_T in, of h_0 out. dG (T,B,3H): dU (after) or dA (before). dN (T,B,H).
// work: 5*B*H + 3*H.
template <typename R>
static void gru_bwd(int T, int B, int H, int after, Act sa, Act aa, const R* A, const R* U,
                    const R* S, const R* h0, const R* Whh, const uint8_t* mask, const R* rho,
                    const R* dout, R* dh, R* dG, R* dN, R* work) {
    const int H3 = 3 * H;
    const size_t BH = (size_t)B * H;
    R *dhn = work, *hd = work + BH, *rec = work + 2 * BH, *dq = work + 3 * BH, *D = work + 5 * BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        const R* od = dout ? dout + (size_t)t * BH : nullptr;
        const R* hp = t ? S + (size_t)(t - 1) * BH : h0;
        const R* hin = hp;
        if (rho) {
            for (size_t j = 0; j < BH; ++j) hd[j] = hp[j] * rho[j];
            hin = hd;
        }
        const R* a = A + (size_t)t * B * H3;
        R* dg = dG + (size_t)t * B * H3;
        R* dn = dN + (size_t)t * BH;
        for (int b = 0; b < B; ++b) {
            R* x = dhn + (size_t)b * H;
            R* y = dh + (size_t)b * H;
            if (m && !m[b]) {  // a kept row: its dh passes through, no gate gradients
                std::memset(x, 0, sizeof(R) * H);
                std::memset(dg + (size_t)b * H3, 0, sizeof(R) * H3);
                std::memset(dn + (size_t)b * H, 0, sizeof(R) * H);
                continue;
            }
            if (od)
                for (int j = 0; j < H; ++j) x[j] = y[j] + od[(size_t)b * H + j];
            else
                std::memcpy(x, y, sizeof(R) * H);
            std::memset(y, 0, sizeof(R) * H);
            const R* ab = a + (size_t)b * H3;
            dact_into(sa, ab, D, 2 * H);
            dact_into(aa, ab + 2 * H, D + 2 * H, H);
            const R* ub = U + (size_t)t * BH + (size_t)b * H;
            if (after)
                gru_bwd_row<R, true>(H, ab, ub, hp + (size_t)b * H, D, x, y, dg + (size_t)b * H3, dn + (size_t)b * H);
            else
                gru_bwd_row<R, false>(H, ab, ub, hp + (size_t)b * H, D, x, y, dg + (size_t)b * H3, dn + (size_t)b * H);
        }
        if (after) {
            mm_nn(B, H, H3, dg, H3, Whh, H, (R)0, rec, H);
        } else {
            mm_nn(B, H, H, dg + 2 * H, H3, Whh + (size_t)2 * H * H, H, (R)0, dq, H);  // dq = dn W_hn
            for (int b = 0; b < B; ++b) {
                if (m && !m[b]) {
                    std::memset(rec + (size_t)b * H, 0, sizeof(R) * H);
                    continue;
                }
                const R* ab = a + (size_t)b * H3;
                const R* hb = hin + (size_t)b * H;
                const R* qb = dq + (size_t)b * H;
                R* gb = dg + (size_t)b * H3;
                R* rb = rec + (size_t)b * H;
                dact_into(sa, ab, D, H);
                for (int j = 0; j < H; ++j) {
                    gb[j] = qb[j] * hb[j] * D[j];  // dr
                    rb[j] = qb[j] * ab[j];         // dq r
                }
            }
            mm_nn(B, H, 2 * H, dg, H3, Whh, H, (R)1, rec, H);
        }
        if (rho)
            for (size_t j = 0; j < BH; ++j) dh[j] += rho[j] * rec[j];
        else
            for (size_t j = 0; j < BH; ++j) dh[j] += rec[j];
    }
}

#define GRU_EXPORT(R, SUF)                                                                      \
    extern "C" void rnnkit_gru_fwd_##SUF(int T, int B, int H, int after, int sc, double ss,     \
                                         int ac, double as, R* A, const R* Whh, const R* bhn,   \
                                         const R* h0, const uint8_t* mask, const R* rho, R* U,  \
                                         R* S, R* work) {                                       \
        gru_fwd<R>(T, B, H, after, Act{sc, ss}, Act{ac, as}, A, Whh, bhn, h0, mask, rho, U, S,  \
                   work);                                                                       \
    }                                                                                           \
    extern "C" void rnnkit_gru_bwd_##SUF(int T, int B, int H, int after, int sc, double ss,     \
                                         int ac, double as, const R* A, const R* U, const R* S, \
                                         const R* h0, const R* Whh, const uint8_t* mask,        \
                                         const R* rho, const R* dout, R* dh, R* dG, R* dN,      \
                                         R* work) {                                             \
        gru_bwd<R>(T, B, H, after, Act{sc, ss}, Act{ac, as}, A, U, S, h0, Whh, mask, rho, dout, \
                   dh, dG, dN, work);                                                           \
    }
GRU_EXPORT(float, f32)
GRU_EXPORT(double, f64)
"""
