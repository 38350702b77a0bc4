"""C++ time loops of the fused LSTM (see :mod:`rnnkit.kernels.fused_lstm` for the equations).

Same buffers and gate order (``i, f, g, o``; coupled ``f, g, o``) as the Python loops there; built
by :mod:`rnnkit.kernels.fused_c`.
"""

LSTM_C = r"""
// ---------------------------------------------------------------- LSTM
// A (T,B,G*H): input projection in, gate values out. C (T,B,H): c_t. S (T,B,Rs): h_t.
// Gate blocks: i at 0 (G = 4 only), f at (G-3)H, g at (G-2)H, o at (G-1)H. work: B*(Rs+2H).
template <typename R>
static void lstm_fwd(int T, int B, int H, int P, int G, Act sa, Act aa, R* A, const R* Whh,
                     const R* Whr, const R* pin, const R* po, const R* h0, const R* c0,
                     const uint8_t* mask, const R* rho, R* C, R* S, R* work) {
    const int Rs = P ? P : H, GH = G * H, NI = (G - 2) * H;
    const bool coupled = G == 3;
    R* hd = work;
    R* hc = work + (size_t)B * Rs;
    R* k = hc + (size_t)B * H;
    for (int t = 0; t < T; ++t) {
        R* a = A + (size_t)t * B * GH;
        const R* hp = t ? S + (size_t)(t - 1) * B * Rs : h0;
        const R* cp = t ? C + (size_t)(t - 1) * B * H : c0;
        const R* hin = hp;
        if (rho) {
            for (size_t j = 0; j < (size_t)B * Rs; ++j) hd[j] = hp[j] * rho[j];
            hin = hd;
        }
        mm_nt(B, GH, Rs, hin, Rs, Whh, Rs, (R)1, a, GH);
        R* c = C + (size_t)t * B * H;
        R* s = S + (size_t)t * B * Rs;
        R* hout = P ? hc : s;
        for (int b = 0; b < B; ++b) {
            R* ab = a + (size_t)b * GH;
            R *ai = ab, *af = ab + (G - 3) * H, *ag = ab + NI, *ao = ab + NI + H;
            const R* cpb = cp + (size_t)b * H;
            R *cb = c + (size_t)b * H, *kb = k + (size_t)b * H, *hb = hout + (size_t)b * H;
            if (pin) {  // peepholes on c_{t-1}
                const R* pf = pin + (G - 3) * H;
                for (int j = 0; j < H; ++j) af[j] += pf[j] * cpb[j];
                if (!coupled)
                    for (int j = 0; j < H; ++j) ai[j] += pin[j] * cpb[j];
            }
            act_into(sa, ab, ab, NI);
            act_into(aa, ag, ag, H);
            if (coupled)
                for (int j = 0; j < H; ++j) cb[j] = ag[j] + af[j] * (cpb[j] - ag[j]);
            else
                for (int j = 0; j < H; ++j) cb[j] = af[j] * cpb[j] + ai[j] * ag[j];
            if (po)  // peephole on c_t
                for (int j = 0; j < H; ++j) ao[j] += po[j] * cb[j];
            act_into(sa, ao, ao, H);
            act_into(aa, cb, kb, H);
            for (int j = 0; j < H; ++j) hb[j] = ao[j] * kb[j];
        }
        if (P) mm_nt(B, P, H, hc, H, Whr, H, (R)0, s, P);
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        keep_rows(m, B, H, cp, c);
        keep_rows(m, B, Rs, hp, s);
    }
}

// One row of dA_t and dc_{t-1} from dh^c (gh) and the carried dc (updated in place).
// D: σ'(i, f) at 0, act'(g) at NI, σ'(o) at NI+H, act'(k) at NI+2H.
template <typename R, bool PEEP, bool COUPLED>
static inline void lstm_bwd_row(int H, int G, const R* RS ab, const R* RS kb, const R* RS cpb,
                                const R* RS D, const R* RS gh, const R* RS pin,
                                const R* RS po, R* RS dcb, R* RS dgb) {
    const int NI = (G - 2) * H;
    const R *ai = ab, *af = ab + (G - 3) * H, *ag = ab + NI, *ao = ab + NI + H;
    const R *Di = D, *Df = D + (G - 3) * H, *Dg = D + NI, *Do = D + NI + H, *Dk = D + NI + 2 * H;
    R *gi = dgb, *gf = dgb + (G - 3) * H, *gg = dgb + NI, *go = dgb + NI + H;
    const R* pf = PEEP ? pin + (G - 3) * H : nullptr;
    for (int j = 0; j < H; ++j) {
        R dAo = gh[j] * kb[j] * Do[j];
        R dcc = dcb[j] + gh[j] * ao[j] * Dk[j];
        if (PEEP) dcc += dAo * po[j];
        go[j] = dAo;
        R dcp;
        if (COUPLED) {
            R dAf = dcc * (cpb[j] - ag[j]) * Df[j];
            gf[j] = dAf;
            gg[j] = dcc * (1 - af[j]) * Dg[j];
            dcp = dcc * af[j];
            if (PEEP) dcp += dAf * pf[j];
        } else {
            R dAi = dcc * ag[j] * Di[j], dAf = dcc * cpb[j] * Df[j];
            gi[j] = dAi;
            gf[j] = dAf;
            gg[j] = dcc * ai[j] * Dg[j];
            dcp = dcc * af[j];
            if (PEEP) dcp += dAi * pin[j] + dAf * pf[j];
        }
        dcb[j] = dcp;
    }
}

// dh (B,Rs), dc (B,H): gradients of the final state in, of the initial state out.
// dout (T,B,Rs), dcs (T,B,H) or null. dG (T,B,G*H) out; dH (T,B,P) out with a projection.
// work: B*(2Rs+H) + (G+2)H.
template <typename R>
static void lstm_bwd(int T, int B, int H, int P, int G, Act sa, Act aa, const R* A, const R* C,
                     const R* c0, const R* Whh, const R* Whr, const R* pin, const R* po,
                     const uint8_t* mask, const R* rho, const R* dout, const R* dcs, R* dh,
                     R* dc, R* dG, R* dH, R* work) {
    const int Rs = P ? P : H, GH = G * H, NI = (G - 2) * H;
    R* dhn = work;
    R* dhc = dhn + (size_t)B * Rs;
    R* dhr = dhc + (size_t)B * H;
    R* D = dhr + (size_t)B * Rs;  // (G + 1) * H derivatives of one row
    R* kb = D + (size_t)(G + 1) * H;  // act(c_t) of one row
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        const R* od = dout ? dout + (size_t)t * B * Rs : nullptr;
        for (int b = 0; b < B; ++b) {  // the new h_t gets dout + dh; a kept row keeps dh
            R* x = dhn + (size_t)b * Rs;
            R* y = dh + (size_t)b * Rs;
            if (m && !m[b]) {
                std::memset(x, 0, sizeof(R) * Rs);
                continue;
            }
            if (od)
                for (int j = 0; j < Rs; ++j) x[j] = y[j] + od[(size_t)b * Rs + j];
            else
                std::memcpy(x, y, sizeof(R) * Rs);
            std::memset(y, 0, sizeof(R) * Rs);
        }
        if (P) {
            std::memcpy(dH + (size_t)t * B * P, dhn, sizeof(R) * B * P);
            mm_nn(B, H, P, dhn, P, Whr, H, (R)0, dhc, H);
        }
        const R* gh = P ? dhc : dhn;
        const R* a = A + (size_t)t * B * GH;
        const R* c = C + (size_t)t * B * H;
        const R* cp = t ? C + (size_t)(t - 1) * B * H : c0;
        R* dg = dG + (size_t)t * B * GH;
        for (int b = 0; b < B; ++b) {
            R* dgb = dg + (size_t)b * GH;
            if (m && !m[b]) {
                std::memset(dgb, 0, sizeof(R) * GH);
                continue;
            }
            const R* ab = a + (size_t)b * GH;
            R* dcb = dc + (size_t)b * H;
            if (dcs)
                for (int j = 0; j < H; ++j) dcb[j] += dcs[((size_t)t * B + b) * H + j];
            act_into(aa, c + (size_t)b * H, kb, H);
            dact_into(sa, ab, D, NI);
            dact_into(aa, ab + NI, D + NI, H);
            dact_into(sa, ab + NI + H, D + NI + H, H);
            dact_into(aa, kb, D + NI + 2 * H, H);
            const R* cpb = cp + (size_t)b * H;
            const R* ghb = gh + (size_t)b * H;
            if (pin) {
                if (G == 3) lstm_bwd_row<R, true, true>(H, G, ab, kb, cpb, D, ghb, pin, po, dcb, dgb);
                else lstm_bwd_row<R, true, false>(H, G, ab, kb, cpb, D, ghb, pin, po, dcb, dgb);
            } else {
                if (G == 3) lstm_bwd_row<R, false, true>(H, G, ab, kb, cpb, D, ghb, pin, po, dcb, dgb);
                else lstm_bwd_row<R, false, false>(H, G, ab, kb, cpb, D, ghb, pin, po, dcb, dgb);
            }
        }
        if (rho) {  // dh_{t-1} = kept dh + ρ ⊙ (dA_t W_hh)
            mm_nn(B, Rs, GH, dg, GH, Whh, Rs, (R)0, dhr, Rs);
            for (size_t j = 0; j < (size_t)B * Rs; ++j) dh[j] += rho[j] * dhr[j];
        } else {
            mm_nn(B, Rs, GH, dg, GH, Whh, Rs, (R)1, dh, Rs);
        }
    }
}

#define LSTM_EXPORT(R, SUF)                                                                      \
    extern "C" void rnnkit_lstm_fwd_##SUF(int T, int B, int H, int P, int G, int sc, double ss,  \
                                          int ac, double as, R* A, const R* Whh, const R* Whr,   \
                                          const R* pin, const R* po, const R* h0, const R* c0,   \
                                          const uint8_t* mask, const R* rho, R* C, R* S,         \
                                          R* work) {                                             \
        lstm_fwd<R>(T, B, H, P, G, Act{sc, ss}, Act{ac, as}, A, Whh, Whr, pin, po, h0, c0, mask, \
                    rho, C, S, work);                                                            \
    }                                                                                            \
    extern "C" void rnnkit_lstm_bwd_##SUF(int T, int B, int H, int P, int G, int sc, double ss,  \
                                          int ac, double as, const R* A, const R* C,             \
                                          const R* c0, const R* Whh, const R* Whr,               \
                                          const R* pin, const R* po, const uint8_t* mask,        \
                                          const R* rho, const R* dout, const R* dcs, R* dh,      \
                                          R* dc, R* dG, R* dH, R* work) {                        \
        lstm_bwd<R>(T, B, H, P, G, Act{sc, ss}, Act{ac, as}, A, C, c0, Whh, Whr, pin, po, mask,  \
                    rho, dout, dcs, dh, dc, dG, dH, work);                                       \
    }
LSTM_EXPORT(float, f32)
LSTM_EXPORT(double, f64)
"""
