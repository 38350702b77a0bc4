// The LSTM time loops: the equations and their symbols are in rnnkit/kernels/fused_lstm.py.
//
// Buffers, as the Python loops there use them:
//   A (T,B,G*H)  pre-activations A_t in (X_t W_ih^T + b), the gate values i, f, g, o out;
//                gate blocks in PyTorch's order: i at 0 (G = 4 only), f at (G-3)H, g at n_in,
//                o at n_in + H, with n_in = (G-2)H the sigmoid gates before g (i, f or f).
//   C (T,B,H)    c_t.     S (T,B,Rs) h_t (projected to Rs = P with a projection, else Rs = H).
#include "common.h"

// work: B*(Rs+2H).
template <typename R>
static void lstm_fwd(int T, int B, int H, int P, int G, Act sigma, Act act, R* A, const R* W_hh,
                     const R* W_hr, const R* p_in, const R* p_o, const R* h0, const R* c0,
                     const uint8_t* mask, const R* rho, R* C, R* S, R* work) {
    const int Rs = P ? P : H, GH = G * H, n_in = (G - 2) * H;
    const bool coupled = G == 3;
    R* h_drop = work;
    R* hc = work + (size_t)B * Rs;  // o * k before the projection
    R* k = hc + (size_t)B * H;      // k_t = act(c_t)
    for (int t = 0; t < T; ++t) {
        R* A_t = A + (size_t)t * B * GH;
        const R* h_prev = t ? S + (size_t)(t - 1) * B * Rs : h0;
        const R* c_prev = t ? C + (size_t)(t - 1) * B * H : c0;
        const R* h_in = dropped(h_prev, rho, (size_t)B * Rs, h_drop);
        mm_nt(B, GH, Rs, h_in, Rs, W_hh, Rs, (R)1, A_t, GH);  // A_t += (rho h_{t-1}) W_hh^T
        R* c_t = C + (size_t)t * B * H;
        R* h_t = S + (size_t)t * B * Rs;
        R* h_out = P ? hc : h_t;
        for (int b = 0; b < B; ++b) {
            R* Ab = A_t + (size_t)b * GH;
            R *i = Ab, *f = Ab + (G - 3) * H, *g = Ab + n_in, *o = Ab + n_in + H;
            const R* cp = c_prev + (size_t)b * H;
            R *c = c_t + (size_t)b * H, *kb = k + (size_t)b * H, *h = h_out + (size_t)b * H;
            if (p_in) {  // peepholes on c_{t-1} into i, f
                const R* p_f = p_in + (G - 3) * H;
                for (int j = 0; j < H; ++j) f[j] += p_f[j] * cp[j];
                if (!coupled)
                    for (int j = 0; j < H; ++j) i[j] += p_in[j] * cp[j];
            }
            act_into(sigma, Ab, Ab, n_in);  // i, f = σ(·)
            act_into(act, g, g, H);         // g = act(A_g)
            if (coupled)                    // c = f c_{t-1} + (1 - f) g
                for (int j = 0; j < H; ++j) c[j] = g[j] + f[j] * (cp[j] - g[j]);
            else
                for (int j = 0; j < H; ++j) c[j] = f[j] * cp[j] + i[j] * g[j];
            if (p_o)  // peephole on c_t into o
                for (int j = 0; j < H; ++j) o[j] += p_o[j] * c[j];
            act_into(sigma, o, o, H);
            act_into(act, c, kb, H);  // k = act(c_t)
            for (int j = 0; j < H; ++j) h[j] = o[j] * kb[j];
        }
        if (P) mm_nt(B, P, H, hc, H, W_hr, H, (R)0, h_t, P);  // h_t = (o k) W_hr^T
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        keep_rows(m, B, H, c_prev, c_t);
        keep_rows(m, B, Rs, h_prev, h_t);
    }
}

// One row of dA_t and dc_{t-1} from dh^c (dh_c) and the carried dc (updated in place).
// D: σ'(i, f) at 0, act'(g) at n_in, σ'(o) at n_in+H, act'(k) at n_in+2H.
template <typename R, bool PEEP, bool COUPLED>
static inline void lstm_bwd_row(int H, int G, const R* RS Ab, const R* RS k, const R* RS cp,
                                const R* RS D, const R* RS dh_c, const R* RS p_in,
                                const R* RS p_o, R* RS dc, R* RS dA) {
    const int n_in = (G - 2) * H;
    const R *i = Ab, *f = Ab + (G - 3) * H, *g = Ab + n_in, *o = Ab + n_in + H;
    const R *Di = D, *Df = D + (G - 3) * H, *Dg = D + n_in, *Do = D + n_in + H;
    const R* Dk = D + n_in + 2 * H;
    R *dA_i = dA, *dA_f = dA + (G - 3) * H, *dA_g = dA + n_in, *dA_o = dA + n_in + H;
    const R* p_f = PEEP ? p_in + (G - 3) * H : nullptr;
    for (int j = 0; j < H; ++j) {
        const R dAo = dh_c[j] * k[j] * Do[j];
        R dc_hat = dc[j] + dh_c[j] * o[j] * Dk[j];
        if (PEEP) dc_hat += p_o[j] * dAo;
        dA_o[j] = dAo;
        R dc_prev = dc_hat * f[j];
        if (COUPLED) {
            const R dAf = dc_hat * (cp[j] - g[j]) * Df[j];
            dA_f[j] = dAf;
            dA_g[j] = dc_hat * (1 - f[j]) * Dg[j];
            if (PEEP) dc_prev += p_f[j] * dAf;
        } else {
            const R dAi = dc_hat * g[j] * Di[j], dAf = dc_hat * cp[j] * Df[j];
            dA_i[j] = dAi;
            dA_f[j] = dAf;
            dA_g[j] = dc_hat * i[j] * Dg[j];
            if (PEEP) dc_prev += p_in[j] * dAi + p_f[j] * dAf;
        }
        dc[j] = dc_prev;
    }
}

// dh (B,Rs), dc (B,H): gradients of the final state in, of the initial state out.
// dout (T,B,Rs), dcs (T,B,H) or null. dA (T,B,G*H) out; dH (T,B,P) out with a projection.
// work: B*(2Rs+H) + (G+2)H.
template <typename R>
static void lstm_bwd(int T, int B, int H, int P, int G, Act sigma, Act act, const R* A,
                     const R* C, const R* c0, const R* W_hh, const R* W_hr, const R* p_in,
                     const R* p_o, const uint8_t* mask, const R* rho, const R* dout, const R* dcs,
                     R* dh, R* dc, R* dA, R* dH, R* work) {
    const int Rs = P ? P : H, GH = G * H, n_in = (G - 2) * H;
    R* dh_new = work;                      // the gradient reaching h_t
    R* dh_proj = dh_new + (size_t)B * Rs;  // dh^c = dh W_hr with a projection
    R* rec = dh_proj + (size_t)B * H;      // dA_t W_hh
    R* D = rec + (size_t)B * Rs;           // (G + 1) * H derivatives of one row
    R* k = D + (size_t)(G + 1) * H;        // act(c_t) of one row
    const auto row = p_in ? (G == 3 ? lstm_bwd_row<R, true, true> : lstm_bwd_row<R, true, false>)
                          : (G == 3 ? lstm_bwd_row<R, false, true> : lstm_bwd_row<R, false, false>);
    for (int t = T - 1; t >= 0; --t) {
        const uint8_t* m = mask ? mask + (size_t)t * B : nullptr;
        new_state_grad(m, B, Rs, dh, dout ? dout + (size_t)t * B * Rs : nullptr, dh_new);
        if (P) {
            std::memcpy(dH + (size_t)t * B * P, dh_new, sizeof(R) * B * P);
            mm_nn(B, H, P, dh_new, P, W_hr, H, (R)0, dh_proj, H);
        }
        const R* dh_c = P ? dh_proj : dh_new;
        const R* A_t = A + (size_t)t * B * GH;
        const R* c_t = C + (size_t)t * B * H;
        const R* c_prev = t ? C + (size_t)(t - 1) * B * H : c0;
        R* dA_t = dA + (size_t)t * B * GH;
        for (int b = 0; b < B; ++b) {
            R* dAb = dA_t + (size_t)b * GH;
            if (m && !m[b]) {  // a kept row: no gate gradients, its dc passes through
                std::memset(dAb, 0, sizeof(R) * GH);
                continue;
            }
            const R* Ab = A_t + (size_t)b * GH;
            R* dcb = dc + (size_t)b * H;
            if (dcs)
                for (int j = 0; j < H; ++j) dcb[j] += dcs[((size_t)t * B + b) * H + j];
            act_into(act, c_t + (size_t)b * H, k, H);
            dact_into(sigma, Ab, D, n_in);
            dact_into(act, Ab + n_in, D + n_in, H);
            dact_into(sigma, Ab + n_in + H, D + n_in + H, H);
            dact_into(act, k, D + n_in + 2 * H, H);
            const R* cp = c_prev + (size_t)b * H;
            row(H, G, Ab, k, cp, D, dh_c + (size_t)b * H, p_in, p_o, dc + (size_t)b * H, dAb);
        }
        if (rho) {  // dh_{t-1} = kept dh + rho (dA_t W_hh)
            mm_nn(B, Rs, GH, dA_t, GH, W_hh, Rs, (R)0, rec, Rs);
            add_dropped(dh, rho, rec, (size_t)B * Rs);
        } else {
            mm_nn(B, Rs, GH, dA_t, GH, W_hh, Rs, (R)1, dh, Rs);
        }
    }
}

// Entry points: argument lists as rnnkit.kernels.fused_c.SIGNATURES declares them.
#define LSTM_EXPORT(R, SUF)                                                                        \
    extern "C" void rnnkit_lstm_fwd_##SUF(int T, int B, int H, int P, int G, int sc, double ss,    \
                                          int ac, double as, R* A, const R* W_hh,                  \
                                          const R* W_hr, const R* p_in, const R* p_o,              \
                                          const R* h0, const R* c0, const uint8_t* mask,           \
                                          const R* rho, R* C, R* S, R* work) {                     \
        lstm_fwd<R>(T, B, H, P, G, Act{sc, ss}, Act{ac, as}, A, W_hh, W_hr, p_in, p_o, h0, c0,     \
                    mask, rho, C, S, work);                                                        \
    }                                                                                              \
    extern "C" void rnnkit_lstm_bwd_##SUF(int T, int B, int H, int P, int G, int sc, double ss,    \
                                          int ac, double as, const R* A, const R* C,               \
                                          const R* c0, const R* W_hh, const R* W_hr,               \
                                          const R* p_in, const R* p_o, const uint8_t* mask,        \
                                          const R* rho, const R* dout, const R* dcs, R* dh,        \
                                          R* dc, R* dA, R* dH, R* work) {                          \
        lstm_bwd<R>(T, B, H, P, G, Act{sc, ss}, Act{ac, as}, A, C, c0, W_hh, W_hr, p_in, p_o,      \
                    mask, rho, dout, dcs, dh, dc, dA, dH, work);                                   \
    }
LSTM_EXPORT(float, f32)
LSTM_EXPORT(double, f64)
