// The GRU time loops: the equations and their symbols are in rnnkit/kernels/fused_gru.py.
//
// Buffers, as the Python loops there use them:
//   A (T,B,3H)  pre-activations in (X_t W_ih^T + b), the gate values r, z, n out;
//   U (T,B,H)   U_n (reset after) or q = r h~ (reset before);   S (T,B,H) h_t.
#include "common.h"

// work: 4*B*H.
template <typename R>
static void gru_fwd(int T, int B, int H, int after, Act sigma, Act act, R* A, const R* W_hh,
                    const R* b_hn, const R* h0, const uint8_t* mask, const R* rho, R* U, R* S,
                    R* work) {
    const int H3 = 3 * H;
    const size_t BH = (size_t)B * H;
    R* h_drop = work;
    R* U_t = work + BH;  // h~ W_hh^T (B, 3H), reset after
    for (int t = 0; t < T; ++t) {
        R* A_t = A + (size_t)t * B * H3;
        R* u = U + (size_t)t * BH;
        R* h_t = S + (size_t)t * BH;
        const R* h_prev = t ? S + (size_t)(t - 1) * BH : h0;
        const R* h_in = dropped(h_prev, rho, BH, h_drop);  // h~
        if (after) {
            mm_nt(B, H3, H, h_in, H, W_hh, H, (R)0, U_t, H3);
            for (int b = 0; b < B; ++b) {
                R* Ab = A_t + (size_t)b * H3;
                R *r = Ab, *n = Ab + 2 * H;
                const R* Ub = U_t + (size_t)b * H3;
                R* U_n = u + (size_t)b * H;
                for (int j = 0; j < 2 * H; ++j) Ab[j] += Ub[j];
                act_into(sigma, Ab, Ab, 2 * H);  // r, z
                if (b_hn)
                    for (int j = 0; j < H; ++j) U_n[j] = Ub[2 * H + j] + b_hn[j];
                else
                    std::memcpy(U_n, Ub + 2 * H, sizeof(R) * H);
                for (int j = 0; j < H; ++j) n[j] += r[j] * U_n[j];
                act_into(act, n, n, H);  // n = act(X_n + r U_n)
            }
        } else {
            mm_nt(B, 2 * H, H, h_in, H, W_hh, H, (R)1, A_t, H3);
            for (int b = 0; b < B; ++b) {
                R* r = A_t + (size_t)b * H3;
                act_into(sigma, r, r, 2 * H);  // r, z
                const R* hb = h_in + (size_t)b * H;
                R* q = u + (size_t)b * H;
                for (int j = 0; j < H; ++j) q[j] = r[j] * hb[j];  // q = r h~
            }
            mm_nt(B, H, H, u, H, W_hh + (size_t)2 * H * H, H, (R)1, A_t + 2 * H, H3);
            for (int b = 0; b < B; ++b) {
                R* n = A_t + (size_t)b * H3 + 2 * H;
                act_into(act, n, n, H);  // n = act(X_n + q W_hn^T)
            }
        }
        for (int b = 0; b < B; ++b) {
            const R* Ab = A_t + (size_t)b * H3;
            const R *z = Ab + H, *n = Ab + 2 * H;
            const R* hp = h_prev + (size_t)b * H;
            R* h = h_t + (size_t)b * H;
            for (int j = 0; j < H; ++j) h[j] = n[j] + z[j] * (hp[j] - n[j]);
        }
        keep_rows(mask ? mask + (size_t)t * B : nullptr, B, H, h_prev, h_t);
    }
}

// dn, dz (and with reset-after dr, dn r) of one row; adds dh z to the carried gradient.
template <typename R, bool AFTER>
static inline void gru_bwd_row(int H, const R* RS Ab, const R* RS U_n, const R* RS hp,
                               const R* RS D, const R* RS dhb, R* RS carry, R* RS dG,
                               R* RS dnb) {
    const R *r = Ab, *z = Ab + H, *n = Ab + 2 * H;
    const R *Dr = D, *Dz = D + H, *Dn = D + 2 * H;
    for (int j = 0; j < H; ++j) {
        const R dn = dhb[j] * (1 - z[j]) * Dn[j];
        dnb[j] = dn;
        dG[H + j] = dhb[j] * (hp[j] - n[j]) * Dz[j];  // dz
        if (AFTER) {
            dG[j] = dn * U_n[j] * Dr[j];  // dr
            dG[2 * H + j] = dn * r[j];    // dU_n
        } else {
            dG[2 * H + j] = dn;
        }
        carry[j] += dhb[j] * z[j];
    }
}

// dh (B,H): gradient of h_T in, of h_0 out. dG (T,B,3H): dU (after) or dA (before). dN (T,B,H).
// work: 5*B*H + 3*H.
template <typename R>
static void gru_bwd(int T, int B, int H, int after, Act sigma, Act act, const R* A, const R* U,
                    const R* S, const R* h0, const R* W_hh, const uint8_t* mask, const R* rho,
                    const R* dout, R* dh, R* dG, R* dN, R* work) {
    const int H3 = 3 * H;
    const size_t BH = (size_t)B * H;
    R *dh_new = work, *h_drop = work + BH, *rec = work + 2 * BH, *dq = work + 3 * BH;
    R* D = work + 5 * BH;
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        const R* h_prev = t ? S + (size_t)(t - 1) * BH : h0;
        const R* h_in = dropped(h_prev, rho, BH, h_drop);
        const R* A_t = A + (size_t)t * B * H3;
        R* dG_t = dG + (size_t)t * B * H3;
        R* dN_t = dN + (size_t)t * BH;
        new_state_grad(m, B, H, dh, dout ? dout + (size_t)t * BH : nullptr, dh_new);
        for (int b = 0; b < B; ++b) {
            if (m && !m[b]) {  // a kept row: its dh passes through, no gate gradients
                std::memset(dG_t + (size_t)b * H3, 0, sizeof(R) * H3);
                std::memset(dN_t + (size_t)b * H, 0, sizeof(R) * H);
                continue;
            }
            const R* Ab = A_t + (size_t)b * H3;
            dact_into(sigma, Ab, D, 2 * H);
            dact_into(act, Ab + 2 * H, D + 2 * H, H);
            const R* U_n = U + (size_t)t * BH + (size_t)b * H;
            const R* hp = h_prev + (size_t)b * H;
            R *dhb = dh_new + (size_t)b * H, *carry = dh + (size_t)b * H;
            R *dGb = dG_t + (size_t)b * H3, *dnb = dN_t + (size_t)b * H;
            if (after)
                gru_bwd_row<R, true>(H, Ab, U_n, hp, D, dhb, carry, dGb, dnb);
            else
                gru_bwd_row<R, false>(H, Ab, U_n, hp, D, dhb, carry, dGb, dnb);
        }
        if (after) {
            mm_nn(B, H, H3, dG_t, H3, W_hh, H, (R)0, rec, H);  // dU W_hh
        } else {
            mm_nn(B, H, H, dG_t + 2 * H, H3, W_hh + (size_t)2 * H * H, H, (R)0, dq, H);  // dn W_hn
            for (int b = 0; b < B; ++b) {
                if (m && !m[b]) {
                    std::memset(rec + (size_t)b * H, 0, sizeof(R) * H);
                    continue;
                }
                const R* r = A_t + (size_t)b * H3;
                const R* hb = h_in + (size_t)b * H;
                const R* dqb = dq + (size_t)b * H;
                R* dr = dG_t + (size_t)b * H3;
                R* rb = rec + (size_t)b * H;
                dact_into(sigma, r, D, H);
                for (int j = 0; j < H; ++j) {
                    dr[j] = dqb[j] * hb[j] * D[j];
                    rb[j] = dqb[j] * r[j];  // dq r
                }
            }
            mm_nn(B, H, 2 * H, dG_t, H3, W_hh, H, (R)1, rec, H);  // + (dr, dz) W_h{r,z}
        }
        add_dropped(dh, rho, rec, BH);
    }
}

// Entry points: argument lists as rnnkit.kernels.fused_c.SIGNATURES declares them.
#define GRU_EXPORT(R, SUF)                                                                         \
    extern "C" void rnnkit_gru_fwd_##SUF(int T, int B, int H, int after, int sc, double ss,        \
                                         int ac, double as, R* A, const R* W_hh,                   \
                                         const R* b_hn, const R* h0, const uint8_t* mask,          \
                                         const R* rho, R* U, R* S, R* work) {                      \
        gru_fwd<R>(T, B, H, after, Act{sc, ss}, Act{ac, as}, A, W_hh, b_hn, h0, mask, rho, U,      \
                   S, work);                                                                       \
    }                                                                                              \
    extern "C" void rnnkit_gru_bwd_##SUF(int T, int B, int H, int after, int sc, double ss,        \
                                         int ac, double as, const R* A, const R* U, const R* S,    \
                                         const R* h0, const R* W_hh, const uint8_t* mask,          \
                                         const R* rho, const R* dout, R* dh, R* dG, R* dN,         \
                                         R* work) {                                                \
        gru_bwd<R>(T, B, H, after, Act{sc, ss}, Act{ac, as}, A, U, S, h0, W_hh, mask, rho,         \
                   dout, dh, dG, dN, work);                                                        \
    }
GRU_EXPORT(float, f32)
GRU_EXPORT(double, f64)
