// The gate arithmetic of one LSTM time step on CUDA, forward and backward (compiled at run time
// by NVRTC; see cuda.rs). One thread per (batch row, hidden unit); the recurrent matrix
// product of each step runs in cuBLAS between the launches. Layouts (row-major, f32):
//   g     (B, T, 4H)  pre-activations in, activated gates i, f, g, o out (saved for backward)
//   cells (T+1, B, H) cell states c_0 … c_T
//   out   B·T·H + B·H hidden states of every step, then the last cell state
//   wcat  (4H, L)     [W_ih | W_hh | b], L = D + H + 1: the bias is column D + H
//   dres  B·T·H + B·H the gradient of `out`
//   dg    (B, T, 4H)  the gradient of the pre-activations
//   dh    (B, H)      the recurrent gradient reaching h_t from step t + 1 (W_hh · dg_{t+1})
//   dc    (B, H)      the gradient reaching c_t from step t + 1, updated to c_{t-1}'s

__device__ __forceinline__ float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

extern "C" __global__ void lstm_fwd_step(float *g, float *cells, float *out, const float *wcat,
                                         int B, int T, int H, int L, int D, int t) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    long base = ((long)b * T + t) * 4 * H;
    long bias = (long)D + H;
    float zi = g[base + j] + wcat[(long)j * L + bias];
    float zf = g[base + H + j] + wcat[(long)(H + j) * L + bias];
    float zg = g[base + 2 * H + j] + wcat[(long)(2 * H + j) * L + bias];
    float zo = g[base + 3 * H + j] + wcat[(long)(3 * H + j) * L + bias];
    float i = sigm(zi), f = sigm(zf), gg = tanhf(zg), o = sigm(zo);
    long bh = (long)B * H;
    float c = f * cells[t * bh + idx] + i * gg;
    cells[(t + 1) * bh + idx] = c;
    out[((long)b * T + t) * H + j] = o * tanhf(c);
    if (t == T - 1) out[(long)B * T * H + idx] = c;
    g[base + j] = i;
    g[base + H + j] = f;
    g[base + 2 * H + j] = gg;
    g[base + 3 * H + j] = o;
}

extern "C" __global__ void lstm_bwd_step(const float *dres, const float *g, const float *cells,
                                         float *dg, const float *dh, float *dc,
                                         int B, int T, int H, int t) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    long bh = (long)B * H;
    long row = (long)b * T + t;
    bool last = t == T - 1;
    float dht = dres[row * H + j] + (last ? 0.0f : dh[idx]);
    float dcn = last ? dres[(long)B * T * H + idx] : dc[idx];
    long base = row * 4 * H;
    float i = g[base + j], f = g[base + H + j], gg = g[base + 2 * H + j], o = g[base + 3 * H + j];
    float c = cells[(t + 1) * bh + idx], cp = cells[t * bh + idx];
    float tc = tanhf(c);
    float dct = dcn + dht * o * (1.0f - tc * tc);
    dg[base + j] = dct * gg * i * (1.0f - i);
    dg[base + H + j] = dct * cp * f * (1.0f - f);
    dg[base + 2 * H + j] = dct * i * (1.0f - gg * gg);
    dg[base + 3 * H + j] = dht * tc * o * (1.0f - o);
    dc[idx] = dct * f;
}
