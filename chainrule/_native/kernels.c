/* chainrule's optional compiled kernels: the data-movement loops of convolution and max
 * pooling, which NumPy can only run as many short strided copies, ReLU, GELU and layer norm,
 * and the direct convolution of layers with few input channels.
 *
 * Every kernel but the direct convolution computes exactly what the NumPy path computes, in
 * the same order of floating point additions, so results are identical with or without this
 * library; there, the arithmetic stays in NumPy's matrix products and only the copies around
 * them are here. The direct convolution (at the end) does its own arithmetic.
 *
 * C99 with GCC's vector extensions (GCC or Clang), no Python headers: chainrule loads the
 * library with ctypes. Each kernel is written once as a macro over the element type and
 * instantiated for float and double.
 *
 * Geometry of a 2-d convolution or pooling, passed as an int64 array `g`:
 *   g[0..3]   N, C, H, W        input
 *   g[4..5]   KH, KW            kernel
 *   g[6..7]   SH, SW            stride
 *   g[8..9]   PT, PL            padding before the first row / column
 *   g[10..11] DH, DW            dilation
 *   g[12..13] HO, WO            output size
 *
 * Column layouts (K = C * KH * KW, P = HO * WO):
 *   per sample:   cols[n][c][i][j][oh][ow]        (N, K, P)
 *   whole batch:  cols[c][i][j][oh][ow][n]        (K, P * N), batch innermost
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exp_f32.h"

/* Plain loops over long arrays, compiled also for x86-64-v3 (AVX2 and FMA) and v4 (AVX-512)
 * and picked at load time where the CPU has them (GCC 12 and later on x86-64 with glibc;
 * older GCC and Clang, which lack those clone names, AVX2 without FMA and AVX-512F);
 * elsewhere the baseline build alone. AVX-512 ran GELU in 2.3x less time than AVX2 without FMA
 * (0.24 vs 0.55 ms over 393,216 floats); FMA alone took AVX2 to 0.42 ms. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__) \
    && __GNUC__ >= 12
#define WIDE_VECTORS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define WIDE_VECTORS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE_VECTORS
#endif

#define GEOMETRY                                                               \
    const int64_t N = g[0], C = g[1], H = g[2], W = g[3], KH = g[4], KW = g[5],   \
                  SH = g[6], SW = g[7], PT = g[8], PL = g[9], DH = g[10],          \
                  DW = g[11], HO = g[12], WO = g[13];                              \
    (void)N; (void)C; (void)H; (void)W; (void)KH; (void)KW; (void)SH; (void)SW;   \
    (void)PT; (void)PL; (void)DH; (void)DW; (void)HO; (void)WO;

/* For each kernel column j, the output columns [lo, hi) whose input column
 * ow * SW - PL + j * DW lies inside [0, W), as span[2 j], span[2 j + 1]; NULL if out of
 * memory. Computed once per call: the divisions are too slow for inner loops. */
static int64_t *column_spans(const int64_t *g) {
    const int64_t W = g[3], KW = g[5], SW = g[7], PL = g[9], DW = g[11], WO = g[13];
    int64_t *span = malloc(2 * KW * sizeof(int64_t));
    if (!span) return NULL;
    for (int64_t j = 0; j < KW; j++) {
        int64_t first = PL - j * DW;         /* ow * SW >= first */
        int64_t last = W - 1 + PL - j * DW;  /* ow * SW <= last */
        int64_t lo = first <= 0 ? 0 : (first + SW - 1) / SW;
        int64_t hi = last < 0 ? 0 : last / SW + 1;
        lo = lo < WO ? lo : WO;
        hi = hi < WO ? hi : WO;
        span[2 * j] = lo;
        span[2 * j + 1] = hi > lo ? hi : lo;
    }
    return span;
}

/* dst[c][r] = src[r][c]: a rows x cols matrix transposed, in cache-sized tiles. */
#define TRANSPOSE(T, NAME)                                                         \
    void NAME(const T *src, T *dst, int64_t rows, int64_t cols) {                  \
        const int64_t tile = 32;                                                   \
        for (int64_t r0 = 0; r0 < rows; r0 += tile)                                \
            for (int64_t c0 = 0; c0 < cols; c0 += tile) {                          \
                int64_t r1 = r0 + tile < rows ? r0 + tile : rows;                  \
                int64_t c1 = c0 + tile < cols ? c0 + tile : cols;                  \
                for (int64_t c = c0; c < c1; c++)                                  \
                    for (int64_t r = r0; r < r1; r++)                              \
                        dst[c * rows + r] = src[r * cols + c];                     \
            }                                                                      \
    }

/* im2col: each receptive field of x (N, C, H, W) as a column, zero where it overhangs. */
#define IM2COL(T, NAME, TRANSPOSE_NAME)                                                     \
    int NAME(const T *x, T *cols, const int64_t *g, int whole_batch) {                     \
        GEOMETRY                                                                            \
        if (!whole_batch) {                                                                 \
            /* Each plane is first copied into a zero-bordered scratch plane, so that every \
             * column row is a plain copy: short rows leave no room for bounds logic. */    \
            const int64_t HP = (HO - 1) * SH + (KH - 1) * DH + 1;                           \
            const int64_t WP = (WO - 1) * SW + (KW - 1) * DW + 1;                           \
            const int64_t width = W < WP - PL ? W : WP - PL;                                \
            T *pad = calloc(HP * WP, sizeof(T));                                            \
            if (!pad) return -1;                                                            \
            T *out = cols;                                                                  \
            for (int64_t nc = 0; nc < N * C; nc++) {                                        \
                const T *plane = x + nc * H * W;                                            \
                for (int64_t ih = 0; ih < H && ih + PT < HP && width > 0; ih++)             \
                    memcpy(pad + (ih + PT) * WP + PL, plane + ih * W, width * sizeof(T));   \
                for (int64_t i = 0; i < KH; i++)                                            \
                    for (int64_t j = 0; j < KW; j++)                                        \
                        for (int64_t oh = 0; oh < HO; oh++, out += WO) {                    \
                            const T *source = pad + (oh * SH + i * DH) * WP + j * DW;       \
                            if (SW == 1)                                                    \
                                for (int64_t ow = 0; ow < WO; ow++) out[ow] = source[ow];   \
                            else                                                            \
                                for (int64_t ow = 0; ow < WO; ow++) out[ow] = source[ow * SW]; \
                        }                                                                   \
            }                                                                               \
            free(pad);                                                                      \
            return 0;                                                                       \
        }                                                                                   \
        /* Batch innermost: transpose once to (C, H, W, N), then copy runs of N. */         \
        int64_t *span = column_spans(g);                                                    \
        T *xt = malloc(N * C * H * W * sizeof(T));                                          \
        if (!span || !xt) {                                                                 \
            free(span);                                                                     \
            free(xt);                                                                       \
            return -1;                                                                      \
        }                                                                                   \
        TRANSPOSE_NAME(x, xt, N, C * H * W);                                                \
        T *out = cols;                                                                      \
        for (int64_t c = 0; c < C; c++)                                                     \
            for (int64_t i = 0; i < KH; i++)                                                \
                for (int64_t j = 0; j < KW; j++) {                                          \
                    const int64_t lo = span[2 * j], hi = span[2 * j + 1];                   \
                    for (int64_t oh = 0; oh < HO; oh++, out += WO * N) {                    \
                        int64_t ih = oh * SH - PT + i * DH;                                 \
                        if (ih < 0 || ih >= H) {                                            \
                            memset(out, 0, WO * N * sizeof(T));                             \
                            continue;                                                       \
                        }                                                                   \
                        const int64_t base = (c * H + ih) * W - PL + j * DW;                \
                        memset(out, 0, lo * N * sizeof(T));                                 \
                        if (SW == 1)                                                        \
                            memcpy(out + lo * N, xt + (base + lo) * N,                      \
                                   (hi - lo) * N * sizeof(T));                              \
                        else                                                                \
                            for (int64_t ow = lo; ow < hi; ow++)                            \
                                memcpy(out + ow * N, xt + (base + ow * SW) * N,             \
                                       N * sizeof(T));                                      \
                        memset(out + hi * N, 0, (WO - hi) * N * sizeof(T));                 \
                    }                                                                       \
                }                                                                           \
        free(xt);                                                                           \
        free(span);                                                                         \
        return 0;                                                                           \
    }

/* col2im, the adjoint of im2col: gx (N, C, H, W) = each column entry added back onto the
 * input element it was copied from, kernel position (i, j) by position, as NumPy does. */
#define COL2IM(T, NAME, TRANSPOSE_NAME)                                                     \
    int NAME(const T *cols, T *gx, const int64_t *g, int whole_batch) {                    \
        GEOMETRY                                                                            \
        int64_t *span = column_spans(g);                                                    \
        if (!span) return -1;                                                               \
        if (!whole_batch) {                                                                 \
            memset(gx, 0, N * C * H * W * sizeof(T));                                       \
            for (int64_t nc = 0; nc < N * C; nc++) {                                        \
                T *plane = gx + nc * H * W;                                                 \
                const T *in = cols + nc * KH * KW * HO * WO;                                \
                for (int64_t i = 0; i < KH; i++)                                            \
                    for (int64_t j = 0; j < KW; j++) {                                      \
                        const int64_t lo = span[2 * j], hi = span[2 * j + 1];               \
                        for (int64_t oh = 0; oh < HO; oh++, in += WO) {                     \
                            int64_t ih = oh * SH - PT + i * DH;                             \
                            if (ih < 0 || ih >= H) continue;                                \
                            const int64_t base = ih * W - PL + j * DW;                      \
                            if (SW == 1)                                                    \
                                for (int64_t ow = lo; ow < hi; ow++) plane[base + ow] += in[ow]; \
                            else                                                            \
                                for (int64_t ow = lo; ow < hi; ow++)                        \
                                    plane[base + ow * SW] += in[ow];                        \
                        }                                                                   \
                    }                                                                       \
            }                                                                               \
            free(span);                                                                     \
            return 0;                                                                       \
        }                                                                                   \
        T *acc = calloc(N * C * H * W, sizeof(T)); /* (C, H, W, N) */                       \
        if (!acc) {                                                                         \
            free(span);                                                                     \
            return -1;                                                                      \
        }                                                                                   \
        const T *in = cols;                                                                 \
        for (int64_t c = 0; c < C; c++)                                                     \
            for (int64_t i = 0; i < KH; i++)                                                \
                for (int64_t j = 0; j < KW; j++) {                                          \
                    const int64_t lo = span[2 * j], hi = span[2 * j + 1];                   \
                    for (int64_t oh = 0; oh < HO; oh++, in += WO * N) {                     \
                        int64_t ih = oh * SH - PT + i * DH;                                 \
                        if (ih < 0 || ih >= H) continue;                                    \
                        const int64_t base = (c * H + ih) * W - PL + j * DW;                \
                        for (int64_t ow = lo; ow < hi; ow++) {                              \
                            T *dst = acc + (base + ow * SW) * N;                            \
                            const T *src = in + ow * N;                                     \
                            for (int64_t n = 0; n < N; n++) dst[n] += src[n];               \
                        }                                                                   \
                    }                                                                       \
                }                                                                           \
        TRANSPOSE_NAME(acc, gx, C * H * W, N);                                              \
        free(acc);                                                                          \
        free(span);                                                                         \
        return 0;                                                                           \
    }

/* Max pooling: each window's max and the position k = i * KW + j inside the window that
 * holds it. Positions outside the input count as -inf; the first maximum wins and a NaN
 * beats everything (the last NaN wins), as in PyTorch's scan. Like the NumPy path, it runs
 * over whole output rows one window position at a time: a loop the compiler vectorizes,
 * where one window at a time would branch unpredictably on every comparison. */
/* One window position's step of max pooling over a row of outputs. `restrict`, a constant
 * STRIDE and a length that is a multiple of 4 let the compiler run it as vector blends only,
 * with no scalar remainder (whose branches random data would mispredict). */
#define POOL_STEP(T, STRIDE)                                                                \
    {                                                                                       \
        const T *restrict from = source;                                                    \
        T *restrict best = best_row;                                                        \
        T *restrict where = won_row;                                                        \
        for (int64_t ow = 0; ow < WO4; ow++) {                                              \
            const T v = from[ow * (STRIDE)], b = best[ow];                                  \
            const int take = (v > b) | (v != v);                                            \
            best[ow] = pick_##T(take, v, b);                                                \
            where[ow] = pick_##T(take, position, where[ow]);                                \
        }                                                                                   \
    }

/* take ? a : b as bit operations: compilers turn a float `?:` into a branch. */
#define PICK(T, U)                                                                          \
    static inline T pick_##T(int take, T a, T b) {                                          \
        U ia, ib, mask = (U)0 - (U)take;                                                    \
        memcpy(&ia, &a, sizeof a);                                                          \
        memcpy(&ib, &b, sizeof b);                                                          \
        ia = (ia & mask) | (ib & ~mask);                                                    \
        memcpy(&a, &ia, sizeof a);                                                          \
        return a;                                                                           \
    }
PICK(float, uint32_t)
PICK(double, uint64_t)

/* Max pooling: each window's max and the position k = i * KW + j inside the window that
 * holds it. Positions outside the input count as -inf; the first maximum wins and a NaN
 * beats everything (the last NaN wins), as in PyTorch's scan. Like the NumPy path, it runs
 * over whole output rows one window position at a time, reading a -inf-bordered copy of
 * the plane so that the loops need no bounds checks. */
#define MAXPOOL(T, NAME)                                                                    \
    int NAME(const T *x, T *out, int16_t *winners, const int64_t *g) {                      \
        GEOMETRY                                                                            \
        const int64_t WO4 = (WO + 3) / 4 * 4;                                               \
        const int64_t HP = (HO - 1) * SH + (KH - 1) * DH + 1;                               \
        const int64_t WP = (WO4 - 1) * SW + (KW - 1) * DW + 1;                              \
        const int64_t width = W < WP - PL ? W : WP - PL;                                    \
        T *pad = malloc((HP * WP + 2 * WO4) * sizeof(T));                                   \
        if (!pad) return -1;                                                                \
        T *best_row = pad + HP * WP, *won_row = best_row + WO4;                             \
        for (int64_t e = 0; e < HP * WP; e++) pad[e] = (T)-INFINITY;                        \
        for (int64_t nc = 0; nc < N * C; nc++) {                                            \
            const T *plane = x + nc * H * W;                                                \
            for (int64_t ih = 0; ih < H && ih + PT < HP && width > 0; ih++)                 \
                memcpy(pad + (ih + PT) * WP + PL, plane + ih * W, width * sizeof(T));       \
            for (int64_t oh = 0; oh < HO; oh++, out += WO, winners += WO) {                 \
                for (int64_t i = 0; i < KH; i++)                                            \
                    for (int64_t j = 0; j < KW; j++) {                                      \
                        const T *source = pad + (oh * SH + i * DH) * WP + j * DW;           \
                        const T position = (T)(i * KW + j);                                 \
                        if (i == 0 && j == 0)                                               \
                            for (int64_t ow = 0; ow < WO4; ow++) {                          \
                                best_row[ow] = source[ow * SW];                             \
                                won_row[ow] = 0;                                            \
                            }                                                               \
                        else if (SW == 2)                                                   \
                            POOL_STEP(T, 2)                                                 \
                        else if (SW == 1)                                                   \
                            POOL_STEP(T, 1)                                                 \
                        else                                                                \
                            POOL_STEP(T, SW)                                                \
                    }                                                                       \
                for (int64_t ow = 0; ow < WO; ow++) {                                       \
                    out[ow] = best_row[ow];                                                 \
                    winners[ow] = (int16_t)won_row[ow];                                     \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        free(pad);                                                                          \
        return 0;                                                                           \
    }

/* Max pooling over side-by-side windows (stride = kernel, no padding or dilation) in two
 * passes: the max of each row's KW-wide pieces, then of KH such maxima down each column.
 * The scan of the window is the row-major one of MAXPOOL split in two, so the value and
 * the winning position are the same; the first pass runs as one long loop over all rows
 * when the windows tile the planes exactly. */
#define ROW_MAX(T, STRIDE)                                                                  \
    for (int64_t e = 0; e < count; e++) {                                                   \
        T b = from[e * (STRIDE)], w = 0;                                                    \
        for (int64_t j = 1; j < (STRIDE); j++) {                                            \
            const T v = from[e * (STRIDE) + j];                                             \
            const int take = (v > b) | (v != v);                                            \
            b = pick_##T(take, v, b);                                                       \
            w = pick_##T(take, (T)j, w);                                                    \
        }                                                                                   \
        best[e] = b;                                                                        \
        won[e] = w;                                                                         \
    }

#define MAXPOOL_DISJOINT(T, NAME)                                                           \
    static void NAME##_rows(const T *restrict from, T *restrict best, T *restrict won,      \
                            int64_t count, int64_t KW) {                                    \
        if (KW == 2) {                                                                      \
            ROW_MAX(T, 2)                                                                   \
        } else {                                                                            \
            ROW_MAX(T, KW)                                                                  \
        }                                                                                   \
    }                                                                                       \
    int NAME(const T *x, T *out, int16_t *winners, const int64_t *g) {                      \
        GEOMETRY                                                                            \
        const int64_t rows = N * C * HO * KH; /* input rows inside some window */           \
        T *best = malloc(2 * rows * WO * sizeof(T));                                        \
        if (!best) return -1;                                                               \
        T *won = best + rows * WO;                                                          \
        if (W == WO * KW && H == HO * KH)                                                   \
            NAME##_rows(x, best, won, rows * WO, KW);                                       \
        else                                                                                \
            for (int64_t r = 0; r < rows; r++) {                                            \
                const int64_t nc = r / (HO * KH), ih = r % (HO * KH);                       \
                NAME##_rows(x + (nc * H + ih) * W, best + r * WO, won + r * WO, WO, KW);    \
            }                                                                               \
        for (int64_t m = 0; m < N * C * HO; m++, out += WO, winners += WO) {                \
            T *restrict b0 = best + m * KH * WO, *restrict w0 = won + m * KH * WO;          \
            for (int64_t i = 1; i < KH; i++) {                                              \
                const T *restrict bi = b0 + i * WO, *restrict wi = w0 + i * WO;             \
                const T offset = (T)(i * KW);                                               \
                for (int64_t ow = 0; ow < WO; ow++) {                                       \
                    const T v = bi[ow], b = b0[ow];                                         \
                    const int take = (v > b) | (v != v);                                    \
                    b0[ow] = pick_##T(take, v, b);                                          \
                    w0[ow] = pick_##T(take, offset + wi[ow], w0[ow]);                       \
                }                                                                           \
            }                                                                               \
            memcpy(out, b0, WO * sizeof(T));                                                \
            for (int64_t ow = 0; ow < WO; ow++) winners[ow] = (int16_t)w0[ow];              \
        }                                                                                   \
        free(best);                                                                         \
        return 0;                                                                           \
    }

/* Max pooling's gradient: each output's gradient added to the input element that won its
 * window. Outputs are visited last to first, so that where windows overlap an element's
 * contributions arrive in ascending window position, the order of the NumPy path. */
#define MAXPOOL_SCATTER(T, NAME)                                                            \
    int NAME(const T *grad, const int16_t *winners, T *gx, const int64_t *g) {              \
        GEOMETRY                                                                            \
        int64_t *offset = malloc(2 * KH * KW * sizeof(int64_t)); /* (row, column) per k */  \
        if (!offset) return -1;                                                             \
        for (int64_t k = 0; k < KH * KW; k++) {                                             \
            offset[2 * k] = (k / KW) * DH;                                                  \
            offset[2 * k + 1] = (k % KW) * DW;                                              \
        }                                                                                   \
        memset(gx, 0, N * C * H * W * sizeof(T));                                           \
        for (int64_t nc = 0; nc < N * C; nc++) {                                            \
            T *plane = gx + nc * H * W;                                                     \
            const T *gp = grad + nc * HO * WO;                                              \
            const int16_t *wp = winners + nc * HO * WO;                                     \
            for (int64_t oh = HO - 1; oh >= 0; oh--)                                        \
                for (int64_t ow = WO - 1; ow >= 0; ow--) {                                  \
                    const int64_t o = oh * WO + ow, k = wp[o];                              \
                    const int64_t ih = oh * SH - PT + offset[2 * k];                        \
                    const int64_t iw = ow * SW - PL + offset[2 * k + 1];                    \
                    if (ih >= 0 && ih < H && iw >= 0 && iw < W) plane[ih * W + iw] += gp[o]; \
                }                                                                           \
        }                                                                                   \
        free(offset);                                                                       \
        return 0;                                                                           \
    }

/* ReLU, forward (max(x, 0), NaN kept) and backward (the gradient where the output is
 * positive, 0 elsewhere: also where the gradient is inf or NaN, as in PyTorch). */
#define RELU(T, NAME, GRAD_NAME)                                                            \
    WIDE_VECTORS void NAME(const T *restrict x, T *restrict out, int64_t n) {               \
        for (int64_t e = 0; e < n; e++)                                                     \
            out[e] = pick_##T((x[e] > 0) | (x[e] != x[e]), x[e], 0);                        \
    }                                                                                       \
    WIDE_VECTORS void GRAD_NAME(const T *restrict result, const T *restrict grad,           \
                                T *restrict out, int64_t n) {                               \
        for (int64_t e = 0; e < n; e++) out[e] = pick_##T(result[e] > 0, grad[e], 0);       \
    }

RELU(float, relu_f32, relu_grad_f32)
RELU(double, relu_f64, relu_grad_f64)

/* Embedding's gradient: out[indices[k]] += rows[k] for k in order, into out zeroed by the
 * caller. Each index's rows are added in their order, as the NumPy path adds them. */
#define ADD_ROWS_AT(T, NAME)                                                                \
    WIDE_VECTORS void NAME(const T *restrict rows, const int64_t *restrict indices,         \
                           T *restrict out, int64_t count, int64_t width) {                 \
        for (int64_t k = 0; k < count; k++) {                                               \
            T *to = out + indices[k] * width;                                               \
            const T *from = rows + k * width;                                               \
            for (int64_t c = 0; c < width; c++) to[c] += from[c];                           \
        }                                                                                   \
    }

ADD_ROWS_AT(float, add_rows_at_f32)
ADD_ROWS_AT(double, add_rows_at_f64)

/* One Adam step of one parameter, in place, in PyTorch's order of operations (that of
 * chainrule/optim/adam.py):
 *   g = grad + l2 * param;  param *= shrink;  m += (g - m) * (1 - beta1);
 *   v = v * beta2 + g * g * (1 - beta2);  param += m / (sqrt(v) / root_bc2 + eps) * step,
 * with h = {l2, shrink, 1 - beta1, beta2, 1 - beta2, root_bc2, eps, step}: l2 the L2 weight
 * decay (else 0), shrink 1 - lr * decoupled weight decay (else 1), root_bc2 the square root
 * of the second moment's bias correction, step -lr / (the first moment's). */
#define ADAM(T, NAME, SQRT)                                                                 \
    WIDE_VECTORS void NAME(T *restrict param, const T *restrict grad, T *restrict m,        \
                           T *restrict v, int64_t n, const double *h) {                     \
        const T l2 = (T)h[0], shrink = (T)h[1], keep1 = (T)h[2], beta2 = (T)h[3];           \
        const T keep2 = (T)h[4], root_bc2 = (T)h[5], eps = (T)h[6], step = (T)h[7];         \
        for (int64_t e = 0; e < n; e++) {                                                   \
            T g = grad[e] + l2 * param[e];                                                  \
            T average = m[e] + (g - m[e]) * keep1;                                          \
            T square_average = v[e] * beta2 + g * g * keep2;                                \
            m[e] = average;                                                                 \
            v[e] = square_average;                                                          \
            param[e] = param[e] * shrink                                                    \
                       + average / (SQRT(square_average) / root_bc2 + eps) * step;          \
        }                                                                                   \
    }

ADAM(float, adam_f32, sqrtf)
ADAM(double, adam_f64, sqrt)

/* GELU, forward and backward (the incoming gradient times the slope), in the exact form
 * x * Phi(x) or, with `tanh_form`, the tanh approximation. In double precision erf, exp and
 * tanh are libm's; in single precision they are the short branch-free formulas below (and
 * exp_f32.h's exp), which the compiler turns into vector instructions (libm's erff runs one
 * element at a time, at a tenth of the speed). The NumPy path computes the same single-precision erf; in double
 * precision it evaluates a rational polynomial where this calls libm: results agree to
 * rounding. The slope of the exact form takes e^(-x^2 / 2) = e^(-z^2) (z = x / sqrt(2)) from
 * the erf that computes it. */

/* erf(z) by Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7), as PyTorch's
 * vectorised CPU erf computes it, and e^(-z^2) on the way, in *gauss. Beyond |z| = 9.3,
 * erf is +-1 in float and e^(-z^2) below the normal floats: 0 there, so that the slope's
 * x * e^(-x^2 / 2) vanishes even for x near the float range's end. */
static inline float erf_gauss_f32(float z, float *gauss) {
    float a = fabsf(z), t = 1 / (1 + 0.3275911f * a), inside = a < 9.3f ? a : 9.3f;
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t
                  + 0.254829592f) * t;
    float e = exp_f32(-inside * inside);
    *gauss = a < 9.3f ? e : 0;
    return copysignf(1 - poly * e, z);
}

static inline double erf_gauss_f64(double z, double *gauss) {
    *gauss = exp(-z * z);
    return erf(z);
}

static inline float erf_f32(float z) {
    float gauss;
    return erf_gauss_f32(z, &gauss);
}

/* tanh is +-1 in float beyond |x| = 10 (NaN gives 1: GELU's factor x keeps it NaN). */
static inline float tanh_f32(float x) {
    x = x < 10.0f ? x : 10.0f;
    x = x > -10.0f ? x : -10.0f;
    return 1 - 2 / (1 + exp_f32(2 * x));
}

#define GELU_TANH_COEF 0.044715
#define SQRT_2_OVER_PI 0.7978845608028654
#define SQRT_HALF 0.7071067811865476
#define INV_SQRT_2PI 0.3989422804014327
#define GELU(T, NAME, GRAD_NAME, ERF, ERF_GAUSS, TANH)                                      \
    WIDE_VECTORS void NAME(const T *restrict x, T *restrict out, int64_t n, int tanh_form) { \
        if (tanh_form)                                                                      \
            for (int64_t e = 0; e < n; e++) {                                               \
                T v = x[e], inner = (v + v * v * v * (T)GELU_TANH_COEF) * (T)SQRT_2_OVER_PI; \
                out[e] = v * (T)0.5 * (1 + TANH(inner));                                    \
            }                                                                               \
        else                                                                                \
            for (int64_t e = 0; e < n; e++)                                                 \
                out[e] = x[e] * (T)0.5 * (1 + ERF(x[e] * (T)SQRT_HALF));                    \
    }                                                                                       \
    WIDE_VECTORS void GRAD_NAME(const T *restrict x, const T *restrict grad,                \
                                T *restrict out, int64_t n, int tanh_form) {                \
        if (tanh_form)                                                                      \
            for (int64_t e = 0; e < n; e++) {                                               \
                T v = x[e], inner = (v + v * v * v * (T)GELU_TANH_COEF) * (T)SQRT_2_OVER_PI; \
                T t = TANH(inner);                                                          \
                T d_inner = (1 + v * v * (T)(3 * GELU_TANH_COEF)) * (T)SQRT_2_OVER_PI;      \
                out[e] = grad[e] * ((T)0.5 * (1 + t) + v * (T)0.5 * (1 - t * t) * d_inner); \
            }                                                                               \
        else                                                                                \
            for (int64_t e = 0; e < n; e++) {                                               \
                T v = x[e], gauss;                                                          \
                T cdf = (T)0.5 * (1 + ERF_GAUSS(v * (T)SQRT_HALF, &gauss));                 \
                out[e] = grad[e] * (cdf + v * gauss * (T)INV_SQRT_2PI);                     \
            }                                                                               \
    }

GELU(float, gelu_f32, gelu_grad_f32, erf_f32, erf_gauss_f32, tanh_f32)
GELU(double, gelu_f64, gelu_grad_f64, erf, erf_gauss_f64, tanh)

/* Layer norm over the rows of a rows x width matrix: x_hat = (x - mean) * invstd with
 * invstd = 1 / sqrt(var + eps) (biased variance), out = x_hat * weight + bias (either may be
 * NULL); and the gradients: of x, invstd * (g - mean(g) - x_hat * mean(g * x_hat)) with
 * g = grad * weight, and of weight and bias, the column sums of grad * x_hat and grad (each
 * NULL when not wanted). All sums accumulate in double, NumPy's in the input's type: they
 * agree to rounding. A row's sums run in ROW_LANES independent partial sums, which the
 * compiler turns into vector additions (one chain of additions would wait on each one). */
#define ROW_LANES 8
static inline double lanes_total(const double *part) {
    return ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
}

#define LAYER_NORM(T, NAME, GRAD_NAME)                                                      \
    WIDE_VECTORS void NAME(const T *restrict x, const T *restrict weight,                   \
                           const T *restrict bias, T *restrict out, T *restrict x_hat,      \
                           T *restrict invstd, int64_t rows, int64_t width, double eps) {   \
        const int64_t body = width - width % ROW_LANES;                                     \
        for (int64_t r = 0; r < rows; r++) {                                                \
            const T *row = x + r * width;                                                   \
            T *hat = x_hat + r * width, *o = out + r * width;                               \
            double sum[ROW_LANES] = {0}, squares[ROW_LANES] = {0};                          \
            for (int64_t c = 0; c < body; c += ROW_LANES)                                   \
                for (int k = 0; k < ROW_LANES; k++) sum[k] += row[c + k];                   \
            for (int64_t c = body; c < width; c++) sum[c - body] += row[c];                 \
            const T mean = (T)(lanes_total(sum) / width);                                   \
            for (int64_t c = 0; c < body; c += ROW_LANES)                                   \
                for (int k = 0; k < ROW_LANES; k++) {                                       \
                    T centered = row[c + k] - mean;                                         \
                    hat[c + k] = centered;                                                  \
                    squares[k] += (double)centered * centered;                              \
                }                                                                           \
            for (int64_t c = body; c < width; c++) {                                        \
                T centered = row[c] - mean;                                                 \
                hat[c] = centered;                                                          \
                squares[c - body] += (double)centered * centered;                           \
            }                                                                               \
            const T scale = (T)(1 / sqrt((T)(lanes_total(squares) / width) + (T)eps));      \
            invstd[r] = scale;                                                              \
            for (int64_t c = 0; c < width; c++) {                                           \
                T value = hat[c] * scale;                                                   \
                hat[c] = value;                                                             \
                if (weight) value *= weight[c];                                             \
                if (bias) value += bias[c];                                                 \
                o[c] = value;                                                               \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    WIDE_VECTORS int GRAD_NAME(const T *restrict grad, const T *restrict x_hat,             \
                               const T *restrict invstd, const T *restrict weight,          \
                               T *restrict grad_x, T *restrict grad_weight,                 \
                               T *restrict grad_bias, int64_t rows, int64_t width) {        \
        const int64_t body = width - width % ROW_LANES;                                     \
        double *column_sums = NULL, *g_hat_columns, *g_columns;                             \
        if (grad_weight || grad_bias) {                                                     \
            column_sums = calloc(2 * width, sizeof(double));                                \
            if (!column_sums) return -1;                                                    \
        }                                                                                   \
        g_hat_columns = column_sums, g_columns = column_sums + width;                       \
        for (int64_t r = 0; r < rows; r++) {                                                \
            const T *g = grad + r * width, *hat = x_hat + r * width;                        \
            if (column_sums)                                                                \
                for (int64_t c = 0; c < width; c++) {                                       \
                    g_hat_columns[c] += (double)g[c] * hat[c];                              \
                    g_columns[c] += g[c];                                                   \
                }                                                                           \
            if (!grad_x) continue;                                                          \
            T *gx = grad_x + r * width;                                                     \
            double g_sum[ROW_LANES] = {0}, g_hat_sum[ROW_LANES] = {0};                      \
            for (int64_t c = 0; c < width; c++) gx[c] = weight ? g[c] * weight[c] : g[c];   \
            for (int64_t c = 0; c < body; c += ROW_LANES)                                   \
                for (int k = 0; k < ROW_LANES; k++) {                                       \
                    g_sum[k] += gx[c + k];                                                  \
                    g_hat_sum[k] += (double)gx[c + k] * hat[c + k];                         \
                }                                                                           \
            for (int64_t c = body; c < width; c++) {                                        \
                g_sum[c - body] += gx[c];                                                   \
                g_hat_sum[c - body] += (double)gx[c] * hat[c];                              \
            }                                                                               \
            const T g_mean = (T)(lanes_total(g_sum) / width);                               \
            const T g_hat_mean = (T)(lanes_total(g_hat_sum) / width);                       \
            for (int64_t c = 0; c < width; c++)                                             \
                gx[c] = (gx[c] - g_mean - hat[c] * g_hat_mean) * invstd[r];                 \
        }                                                                                   \
        for (int64_t c = 0; c < width && column_sums; c++) {                                \
            if (grad_weight) grad_weight[c] = (T)g_hat_columns[c];                          \
            if (grad_bias) grad_bias[c] = (T)g_columns[c];                                  \
        }                                                                                   \
        free(column_sums);                                                                  \
        return 0;                                                                           \
    }

LAYER_NORM(float, layer_norm_f32, layer_norm_grad_f32)
LAYER_NORM(double, layer_norm_f64, layer_norm_grad_f64)

/* Softmax and log-softmax along the rows of a rows x width matrix, stably: the row's largest
 * value subtracted first, its exponentials summed in double (in ROW_LANES partial sums, as
 * layer norm's). A row holding NaN comes out NaN, as in NumPy. With probs NULL only the
 * log-probabilities are written (the exponentials pass through log_probs on the way). */
#define LOG_SOFTMAX(T, NAME, EXP, LOG)                                                      \
    WIDE_VECTORS void NAME(const T *restrict x, T *log_probs, T *probs, int64_t rows,       \
                           int64_t width) {                                                 \
        const int64_t body = width - width % ROW_LANES;                                     \
        for (int64_t r = 0; r < rows; r++) {                                                \
            const T *row = x + r * width;                                                   \
            T *lp = log_probs + r * width, *p = probs ? probs + r * width : lp;             \
            T top[ROW_LANES];                                                               \
            double total[ROW_LANES] = {0};                                                  \
            for (int k = 0; k < ROW_LANES; k++) top[k] = row[0];                            \
            for (int64_t c = 0; c < body; c += ROW_LANES)                                   \
                for (int k = 0; k < ROW_LANES; k++)                                         \
                    top[k] = row[c + k] > top[k] ? row[c + k] : top[k];                     \
            for (int64_t c = body; c < width; c++)                                          \
                top[c - body] = row[c] > top[c - body] ? row[c] : top[c - body];            \
            for (int k = 1; k < ROW_LANES; k++) top[0] = top[k] > top[0] ? top[k] : top[0]; \
            for (int64_t c = 0; c < width; c++) {                                           \
                T shifted = row[c] - top[0];                                                \
                p[c] = shifted == shifted ? EXP(shifted) : shifted;                         \
            }                                                                               \
            for (int64_t c = 0; c < body; c += ROW_LANES)                                   \
                for (int k = 0; k < ROW_LANES; k++) total[k] += p[c + k];                   \
            for (int64_t c = body; c < width; c++) total[c - body] += p[c];                 \
            const T sum = (T)lanes_total(total), log_sum = LOG(sum);                        \
            if (probs)                                                                      \
                for (int64_t c = 0; c < width; c++) {                                       \
                    p[c] /= sum;                                                            \
                    lp[c] = (row[c] - top[0]) - log_sum;                                    \
                }                                                                           \
            else                                                                            \
                for (int64_t c = 0; c < width; c++) lp[c] = (row[c] - top[0]) - log_sum;    \
        }                                                                                   \
    }

LOG_SOFTMAX(float, log_softmax_rows_f32, exp_nonpositive_f32, logf)
LOG_SOFTMAX(double, log_softmax_rows_f64, exp, log)
/* Max pooling's gradient for side-by-side windows: every input element inside a window
 * gets its window's gradient if it won, else 0 (and elements outside all windows 0), written
 * row by row with no scattered additions. */
#define SCATTER_ROW(T, STRIDE)                                                              \
    for (int64_t ow = 0; ow < WO; ow++)                                                     \
        for (int64_t j = 0; j < (STRIDE); j++)                                              \
            to[ow * (STRIDE) + j] = pick_##T(at[ow] == (T)(first + j), from[ow], 0);

#define MAXPOOL_SCATTER_DISJOINT(T, NAME)                                                   \
    static void NAME##_row(const T *restrict from, const T *restrict at, T *restrict to,    \
                           int64_t WO, int64_t KW, int64_t first) {                         \
        if (KW == 2) {                                                                      \
            SCATTER_ROW(T, 2)                                                               \
        } else {                                                                            \
            SCATTER_ROW(T, KW)                                                              \
        }                                                                                   \
    }                                                                                       \
    int NAME(const T *grad, const int16_t *winners, T *gx, const int64_t *g) {              \
        GEOMETRY                                                                            \
        T *at = malloc(WO * sizeof(T)); /* a row of winners, as T for vector compares */    \
        if (!at) return -1;                                                                 \
        for (int64_t nc = 0; nc < N * C; nc++) {                                            \
            T *plane = gx + nc * H * W;                                                     \
            for (int64_t oh = 0; oh < HO; oh++) {                                           \
                const int64_t o = (nc * HO + oh) * WO;                                      \
                for (int64_t ow = 0; ow < WO; ow++) at[ow] = (T)winners[o + ow];            \
                for (int64_t i = 0; i < KH; i++) {                                          \
                    T *row = plane + (oh * KH + i) * W;                                     \
                    NAME##_row(grad + o, at, row, WO, KW, i * KW);                          \
                    for (int64_t iw = WO * KW; iw < W; iw++) row[iw] = 0;                   \
                }                                                                           \
            }                                                                               \
            for (int64_t e = HO * KH * W; e < H * W; e++) plane[e] = 0;                     \
        }                                                                                   \
        free(at);                                                                           \
        return 0;                                                                           \
    }

/* Direct convolution, for stride 1, no dilation and one group: the arithmetic of a
 * convolution with few input channels (LeNet-5's first), done here rather than as im2col and
 * a matrix product. Its columns would be kh * kw times the size of the input, and streaming
 * them through memory costs more than the multiply-adds. Unlike the kernels above, these
 * add in their own order, so results match the NumPy path to rounding, not bit for bit.
 *
 * One sample at a time, the input is copied into a zero-bordered scratch image whose rows
 * are WP = WO + KW - 1 wide, so that the output can be computed along "wide" rows: output
 * position q = oh * WP + ow reads scratch[q + c * HP * WP + i * WP + j] for every tap, one
 * offset per tap, with no bounds logic; the WP - WO positions past each row's end are
 * computed and dropped. Vectors run along q, a register tile covers OB output channels
 * times PB vectors of positions (forward) or OB channels times TB taps (weight gradient).
 *
 * The geometry is the int64 array at the top plus the number of output channels O; SH, SW,
 * DH, DW are 1. Padding may be negative (rows and columns cropped), as the input gradient,
 * which is this same convolution of the padded output gradient with the flipped weight,
 * needs where the forward padding exceeds KH - 1. */
#define VECTOR_BYTES 32
#if defined(__x86_64__) || defined(__i386__)
#define WIDE_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define FAST_TARGET __attribute__((target("avx2,fma")))
#else
#define WIDE_TARGET
#define FAST_TARGET
#endif
/* Tests lower the cap to run the builds this CPU would not pick. */
static int cpu_level_cap = 2;
void direct_cap_cpu_level(int cap) { cpu_level_cap = cap; }
/* The build to run: 2 with AVX-512, 1 with AVX2 and FMA, 0 for none (at most the cap). */
static int CPU_LEVEL(void) {
    int level = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2 : 1;
#endif
    return level < cpu_level_cap ? level : cpu_level_cap;
}
#define INLINE static inline __attribute__((always_inline))

typedef float vec_float __attribute__((vector_size(VECTOR_BYTES)));
typedef double vec_double __attribute__((vector_size(VECTOR_BYTES)));

/* The scratch image of one sample: x's C planes at offset (PT, PL), zero elsewhere (the
 * borders are zeroed once; each sample overwrites the same interior). */
#define PAD_SAMPLE(T)                                                                       \
    static void pad_sample_##T(const T *x, T *xp, const int64_t *g, int64_t HP, int64_t WP) { \
        GEOMETRY                                                                            \
        const int64_t lo = PL < 0 ? -PL : 0, hi = W < WP - PL ? W : WP - PL;                \
        if (hi <= lo) return;                                                               \
        for (int64_t c = 0; c < C; c++)                                                     \
            for (int64_t ih = 0; ih < H; ih++) {                                            \
                const int64_t r = ih + PT;                                                  \
                if (r >= 0 && r < HP)                                                       \
                    memcpy(xp + (c * HP + r) * WP + lo + PL, x + (c * H + ih) * W + lo,     \
                           (hi - lo) * sizeof(T));                                          \
            }                                                                               \
    }

/* Vector loads and stores at any alignment (splat_T, the broadcast, is below). */
#define VECTOR_OPS(T)                                                                       \
    enum { LANES_##T = VECTOR_BYTES / sizeof(T) };                                          \
    INLINE vec_##T load_##T(const T *p) { vec_##T v; memcpy(&v, p, sizeof v); return v; }   \
    INLINE void store_##T(T *p, vec_##T v) { memcpy(p, &v, sizeof v); }

/* out[ob][q .. q + PB vectors) for OB channels: bias plus the sum over taps t of
 * w[ob][t] * scratch[q + offset[t]]. */
#define FORWARD_TILE(T, V, OB, PB)                                                          \
    INLINE void forward_tile_##T##_##V##_##OB(const T *xq, const int64_t *offset,           \
                                              int64_t taps, const T *w, const T *bias,      \
                                              T *tq, int64_t QR) {                          \
        vec_##T acc[OB][PB];                                                                \
        for (int ob = 0; ob < OB; ob++)                                                     \
            for (int pb = 0; pb < PB; pb++) acc[ob][pb] = splat_##T(bias ? bias[ob] : 0);   \
        for (int64_t t = 0; t < taps; t++) {                                                \
            vec_##T xv[PB];                                                                 \
            for (int pb = 0; pb < PB; pb++) xv[pb] = load_##T(xq + offset[t] + pb * LANES_##T); \
            for (int ob = 0; ob < OB; ob++) {                                               \
                const vec_##T wv = splat_##T(w[ob * taps + t]);                             \
                for (int pb = 0; pb < PB; pb++) acc[ob][pb] += wv * xv[pb];                 \
            }                                                                               \
        }                                                                                   \
        for (int ob = 0; ob < OB; ob++)                                                     \
            for (int pb = 0; pb < PB; pb++) store_##T(tq + ob * QR + pb * LANES_##T, acc[ob][pb]); \
    }

/* sums[ob][tb] (vectors) += the sum over positions q of grad[ob][q] * scratch[q + offset[tb]]. */
#define WEIGHT_TILE(T, V, OB, TB)                                                           \
    INLINE void weight_tile_##T##_##V##_##OB##_##TB(const T *xp, const int64_t *offset,     \
                                                    const T *gq, int64_t QR, T *sums,       \
                                                    int64_t taps) {                         \
        vec_##T acc[OB][TB];                                                                \
        for (int ob = 0; ob < OB; ob++)                                                     \
            for (int tb = 0; tb < TB; tb++) acc[ob][tb] = splat_##T(0);                     \
        for (int64_t q = 0; q < QR; q += LANES_##T) {                                       \
            vec_##T gv[OB];                                                                 \
            for (int ob = 0; ob < OB; ob++) gv[ob] = load_##T(gq + ob * QR + q);            \
            for (int tb = 0; tb < TB; tb++) {                                               \
                const vec_##T xv = load_##T(xp + offset[tb] + q);                           \
                for (int ob = 0; ob < OB; ob++) acc[ob][tb] += gv[ob] * xv;                 \
            }                                                                               \
        }                                                                                   \
        for (int ob = 0; ob < OB; ob++)                                                     \
            for (int tb = 0; tb < TB; tb++) {                                               \
                T *s = sums + (ob * taps + tb) * LANES_##T;                                 \
                store_##T(s, load_##T(s) + acc[ob][tb]);                                    \
            }                                                                               \
    }

/* The scratch layout shared by both directions: sizes, the offset of each tap (c, i, j),
 * and the scratch image with room for the last tile's overhang. */
#define DIRECT_LAYOUT(T, QUANTUM)                                                           \
    GEOMETRY                                                                                \
    const int64_t HP = HO + KH - 1, WP = WO + KW - 1, taps = C * KH * KW;                   \
    const int64_t QR = (HO * WP + (QUANTUM) - 1) / (QUANTUM) * (QUANTUM);                   \
    const int64_t scratch_size = C * HP * WP + QR + KW * WP;                                \
    int64_t *offset = malloc(taps * sizeof(int64_t));                                       \
    T *xp = calloc(scratch_size, sizeof(T));                                                \
    if (offset && xp)                                                                       \
        for (int64_t c = 0; c < C; c++)                                                     \
            for (int64_t i = 0; i < KH; i++)                                                \
                for (int64_t j = 0; j < KW; j++)                                            \
                    offset[(c * KH + i) * KW + j] = (c * HP + i) * WP + j;

/* The forward pass of variant V, with tiles of up to 4 (or, with WIDE set, 6) channels by
 * PB vectors of positions. */
#define FORWARD_CASE(T, V, OB)                                                              \
    case OB: forward_tile_##T##_##V##_##OB(xp + q, offset, taps, wo, b, tmp + q, QR); break;
#define DIRECT_FORWARD(T, V, ATTRIBUTE, WIDE, PB)                                           \
    FORWARD_TILE(T, V, 1, PB) FORWARD_TILE(T, V, 2, PB) FORWARD_TILE(T, V, 3, PB)           \
    FORWARD_TILE(T, V, 4, PB) FORWARD_TILE(T, V, 5, PB) FORWARD_TILE(T, V, 6, PB)           \
    ATTRIBUTE static int direct_forward_##T##_##V(const T *x, const T *w, const T *bias,    \
                                                  T *out, const int64_t *g, int64_t O) {    \
        const int64_t block = (WIDE) ? 6 : 4;                                               \
        DIRECT_LAYOUT(T, (PB) * LANES_##T)                                                  \
        T *tmp = malloc(block * QR * sizeof(T));                                            \
        if (!offset || !xp || !tmp) {                                                       \
            free(offset); free(xp); free(tmp);                                              \
            return -1;                                                                      \
        }                                                                                   \
        for (int64_t n = 0; n < N; n++) {                                                   \
            pad_sample_##T(x + n * C * H * W, xp, g, HP, WP);                               \
            for (int64_t o0 = 0; o0 < O; o0 += block) {                                     \
                const int64_t ob = O - o0 < block ? O - o0 : block;                         \
                const T *wo = w + o0 * taps, *b = bias ? bias + o0 : NULL;                  \
                for (int64_t q = 0; q < QR; q += (PB) * LANES_##T)                          \
                    switch (ob) {                                                           \
                        FORWARD_CASE(T, V, 6) FORWARD_CASE(T, V, 5) FORWARD_CASE(T, V, 4)   \
                        FORWARD_CASE(T, V, 3) FORWARD_CASE(T, V, 2) FORWARD_CASE(T, V, 1)   \
                    }                                                                       \
                for (int64_t k = 0; k < ob; k++)                                            \
                    for (int64_t oh = 0; oh < HO; oh++)                                     \
                        memcpy(out + ((n * O + o0 + k) * HO + oh) * WO, tmp + k * QR + oh * WP, \
                               WO * sizeof(T));                                             \
            }                                                                               \
        }                                                                                   \
        free(offset); free(xp); free(tmp);                                                  \
        return 0;                                                                           \
    }

/* The weight gradient of variant V, with tiles of OB channels by TB taps; sums (O * taps
 * vectors) is added to. */
#define DIRECT_WEIGHT(T, V, ATTRIBUTE, OB, TB)                                              \
    WEIGHT_TILE(T, V, OB, TB) WEIGHT_TILE(T, V, OB, 1) WEIGHT_TILE(T, V, 1, TB)             \
    WEIGHT_TILE(T, V, 1, 1)                                                                 \
    ATTRIBUTE static int direct_weight_##T##_##V(const T *x, const T *grad, T *sums,        \
                                                 const int64_t *g, int64_t O) {             \
        DIRECT_LAYOUT(T, LANES_##T)                                                         \
        T *wide = calloc(O * QR, sizeof(T)); /* grad along wide rows, 0 past each row */    \
        if (!offset || !xp || !wide) {                                                      \
            free(offset); free(xp); free(wide);                                             \
            return -1;                                                                      \
        }                                                                                   \
        for (int64_t n = 0; n < N; n++) {                                                   \
            pad_sample_##T(x + n * C * H * W, xp, g, HP, WP);                               \
            for (int64_t o = 0; o < O; o++)                                                 \
                for (int64_t oh = 0; oh < HO; oh++)                                         \
                    memcpy(wide + o * QR + oh * WP, grad + ((n * O + o) * HO + oh) * WO,    \
                           WO * sizeof(T));                                                 \
            for (int64_t o0 = 0; o0 < O; o0 += OB) {                                        \
                const int full = O - o0 >= OB;                                              \
                const int64_t ob = full ? OB : O - o0;                                      \
                for (int64_t t0 = 0; t0 < taps; t0 += TB) {                                 \
                    T *s = sums + (o0 * taps + t0) * LANES_##T;                             \
                    const T *gq = wide + o0 * QR;                                           \
                    const int64_t *off = offset + t0;                                       \
                    if (taps - t0 >= TB) {                                                  \
                        if (full) weight_tile_##T##_##V##_##OB##_##TB(xp, off, gq, QR, s, taps); \
                        else                                                                \
                            for (int64_t k = 0; k < ob; k++)                                \
                                weight_tile_##T##_##V##_1_##TB(xp, off, gq + k * QR, QR,    \
                                                               s + k * taps * LANES_##T, taps); \
                        continue;                                                           \
                    }                                                                       \
                    for (int64_t t = 0; t < taps - t0; t++) {                               \
                        T *st = s + t * LANES_##T;                                          \
                        if (full) weight_tile_##T##_##V##_##OB##_1(xp, off + t, gq, QR, st, taps); \
                        else                                                                \
                            for (int64_t k = 0; k < ob; k++)                                \
                                weight_tile_##T##_##V##_1_1(xp, off + t, gq + k * QR, QR,   \
                                                            st + k * taps * LANES_##T, taps); \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        free(offset); free(xp); free(wide);                                                 \
        return 0;                                                                           \
    }

/* The input gradient of a convolution whose columns are laid out batch-innermost (LeNet-5's
 * second), with stride 1, no dilation and one group, from the output gradient in that
 * layout (grad_matrix's, gt[o][oh][ow][n]), with vectors along the batch:
 *   gxt[c][ih][iw][n] = sum over o, i, j of w[o][c][i][j] * gt[o][ih + PT - i][iw + PL - j][n]
 * over the kernel positions whose output position lies inside. It stands in for a product
 * with only O terms per element, whose K x P*N result would go to memory and back for col2im.
 * A tile is CB input channels by NB vectors of samples, at one input position. */
#define INPUT_TILE(T, V, CB, NB)                                                            \
    INLINE void input_tile_##T##_##V##_##CB##_##NB(const T *gt, const T *w, T *out,         \
                                                   const int64_t *g, int64_t O, int64_t ih, \
                                                   int64_t iw, int64_t c0, int64_t n0) {    \
        GEOMETRY                                                                            \
        vec_##T acc[CB][NB];                                                                \
        for (int a = 0; a < CB; a++)                                                        \
            for (int b = 0; b < NB; b++) acc[a][b] = splat_##T(0);                          \
        const int64_t i_lo = ih + PT - HO + 1 > 0 ? ih + PT - HO + 1 : 0;                   \
        const int64_t i_hi = ih + PT < KH - 1 ? ih + PT : KH - 1;                           \
        const int64_t j_lo = iw + PL - WO + 1 > 0 ? iw + PL - WO + 1 : 0;                   \
        const int64_t j_hi = iw + PL < KW - 1 ? iw + PL : KW - 1;                           \
        for (int64_t o = 0; o < O; o++)                                                     \
            for (int64_t i = i_lo; i <= i_hi; i++)                                          \
                for (int64_t j = j_lo; j <= j_hi; j++) {                                    \
                    const T *gp = gt + ((o * HO + ih + PT - i) * WO + iw + PL - j) * N + n0; \
                    const T *wp = w + ((o * C + c0) * KH + i) * KW + j;                     \
                    vec_##T gv[NB];                                                         \
                    for (int b = 0; b < NB; b++) gv[b] = load_##T(gp + b * LANES_##T);      \
                    for (int a = 0; a < CB; a++) {                                          \
                        const vec_##T wv = splat_##T(wp[a * KH * KW]);                      \
                        for (int b = 0; b < NB; b++) acc[a][b] += wv * gv[b];               \
                    }                                                                       \
                }                                                                           \
        for (int a = 0; a < CB; a++)                                                        \
            for (int b = 0; b < NB; b++)                                                    \
                store_##T(out + (((c0 + a) * H + ih) * W + iw) * N + n0 + b * LANES_##T,    \
                          acc[a][b]);                                                       \
    }

/* The same sum for one sample, scalar: the batch's last N % LANES samples. */
#define INPUT_SCALAR(T)                                                                     \
    static void input_scalar_##T(const T *gt, const T *w, T *out, const int64_t *g, int64_t O, \
                                 int64_t ih, int64_t iw, int64_t c, int64_t n) {            \
        GEOMETRY                                                                            \
        T total = 0;                                                                        \
        for (int64_t o = 0; o < O; o++)                                                     \
            for (int64_t i = 0; i < KH; i++)                                                \
                for (int64_t j = 0; j < KW; j++) {                                          \
                    const int64_t oh = ih + PT - i, ow = iw + PL - j;                       \
                    if (oh >= 0 && oh < HO && ow >= 0 && ow < WO)                           \
                        total += w[((o * C + c) * KH + i) * KW + j] * gt[(o * HO + oh) * WO * N + ow * N + n]; \
                }                                                                           \
        out[((c * H + ih) * W + iw) * N + n] = total;                                       \
    }

#define INPUT_CASE(T, V, CB, NB)                                                            \
    case CB: input_tile_##T##_##V##_##CB##_##NB(gt, w, gxt, g, O, ih, iw, c0, n0); break;
#define INPUT_CASES(T, V, NB)                                                               \
    switch (cb) {                                                                           \
        INPUT_CASE(T, V, 6, NB) INPUT_CASE(T, V, 5, NB) INPUT_CASE(T, V, 4, NB)             \
        INPUT_CASE(T, V, 3, NB) INPUT_CASE(T, V, 2, NB) INPUT_CASE(T, V, 1, NB)             \
    }
#define INPUT_TILES(T, V, NB)                                                               \
    INPUT_TILE(T, V, 1, NB) INPUT_TILE(T, V, 2, NB) INPUT_TILE(T, V, 3, NB)                 \
    INPUT_TILE(T, V, 4, NB) INPUT_TILE(T, V, 5, NB) INPUT_TILE(T, V, 6, NB)

/* gxt (C, H, W, N) from gt, in tiles of up to CB channels by NB vectors, then one vector,
 * then scalars. */
#define DIRECT_INPUT(T, V, ATTRIBUTE, CB, NB)                                               \
    INPUT_TILES(T, V, NB) INPUT_TILES(T, V, 1)                                              \
    ATTRIBUTE static void direct_input_##T##_##V(const T *gt, const T *w, T *gxt,           \
                                                 const int64_t *g, int64_t O) {             \
        GEOMETRY                                                                            \
        const int64_t step = (NB) * LANES_##T, blocks = N / step * step;                    \
        const int64_t vectors = N / LANES_##T * LANES_##T;                                  \
        for (int64_t ih = 0; ih < H; ih++)                                                  \
            for (int64_t iw = 0; iw < W; iw++)                                              \
                for (int64_t c0 = 0; c0 < C; c0 += (CB)) {                                  \
                    const int64_t cb = C - c0 < (CB) ? C - c0 : (CB);                       \
                    for (int64_t n0 = 0; n0 < blocks; n0 += step) INPUT_CASES(T, V, NB)     \
                    for (int64_t n0 = blocks; n0 < vectors; n0 += LANES_##T) INPUT_CASES(T, V, 1) \
                    for (int64_t n = vectors; n < N; n++)                                   \
                        for (int64_t c = c0; c < c0 + cb; c++)                              \
                            input_scalar_##T(gt, w, gxt, g, O, ih, iw, c, n);               \
                }                                                                           \
    }

/* Two builds of each: for CPUs with AVX-512 (whose 32 vector registers hold larger tiles,
 * even for these 256-bit vectors) and for those with AVX2 and FMA. A build for other CPUs
 * made the LeNet-5 step 28 % slower than im2col and a matrix product (SSE2 on this machine:
 * no FMA, half the registers), so there is none: direct_level() says which to use. The
 * batch-innermost input gradient has the AVX-512 build only: with AVX2's 16 registers it
 * took 0.71-0.73 ms in the LeNet-5 step against the product and col2im's 0.45-0.52. */
#define DIRECT_VARIANTS(T)                                                                  \
    DIRECT_FORWARD(T, wide, WIDE_TARGET, 1, 4)                                              \
    DIRECT_FORWARD(T, fast, FAST_TARGET, 0, 3)                                              \
    DIRECT_WEIGHT(T, wide, WIDE_TARGET, 3, 8)                                               \
    DIRECT_WEIGHT(T, fast, FAST_TARGET, 2, 6)                                               \
    INPUT_SCALAR(T)                                                                         \
    DIRECT_INPUT(T, wide, WIDE_TARGET, 6, 4)

#define UNSUPPORTED -2

/* Which build of the direct convolutions this CPU runs: 2 (AVX-512), 1 (AVX2 and FMA; no
 * batch-innermost input gradient) or 0 (none: im2col), within the cap. */
int direct_level(void) { return CPU_LEVEL(); }

/* The exported kernels run the build for this CPU, or return UNSUPPORTED. They use one thread: a second one,
 * started per call, made the LeNet-5 step slower, as it competes for the cores with the
 * BLAS threads that spin between matrix products. */
#define DIRECT_EXPORTS(T, SUFFIX, TRANSPOSE_NAME)                                           \
    int direct_conv_##SUFFIX(const T *x, const T *w, const T *b, T *out, const int64_t *g,  \
                             int64_t O) {                                                   \
        const int level = CPU_LEVEL();                                                      \
        if (level < 1) return UNSUPPORTED;                                                  \
        return (level == 2 ? direct_forward_##T##_wide : direct_forward_##T##_fast)(        \
            x, w, b, out, g, O);                                                            \
    }                                                                                       \
    /* gw (O, C, KH, KW) = the sum over the batch of grad * x, per tap. */                   \
    int direct_weight_grad_##SUFFIX(const T *x, const T *grad, T *gw, const int64_t *g,     \
                                    int64_t O) {                                            \
        const int64_t taps = g[1] * g[4] * g[5], lanes = LANES_##T;                         \
        const int level = CPU_LEVEL();                                                      \
        if (level < 1) return UNSUPPORTED;                                                  \
        T *sums = calloc(O * taps * lanes, sizeof(T));                                      \
        if (!sums) return -1;                                                               \
        const int status = (level == 2 ? direct_weight_##T##_wide : direct_weight_##T##_fast)( \
            x, grad, sums, g, O);                                                           \
        for (int64_t k = 0; k < O * taps; k++) {                                            \
            T total = 0;                                                                    \
            for (int64_t l = 0; l < lanes; l++) total += sums[k * lanes + l];               \
            gw[k] = total;                                                                  \
        }                                                                                   \
        free(sums);                                                                         \
        return status;                                                                      \
    }                                                                                       \
    /* gx (N, C, H, W) from gt (O, HO, WO, N): see DIRECT_INPUT. */                          \
    int direct_input_grad_##SUFFIX(const T *gt, const T *w, T *gx, const int64_t *g,        \
                                   int64_t O) {                                             \
        if (CPU_LEVEL() < 2) return UNSUPPORTED;                                            \
        const int64_t N = g[0], CHW = g[1] * g[2] * g[3];                                   \
        T *gxt = malloc(CHW * N * sizeof(T));                                               \
        if (!gxt) return -1;                                                                \
        direct_input_##T##_wide(gt, w, gxt, g, O);                                          \
        TRANSPOSE_NAME(gxt, gx, CHW, N);                                                    \
        free(gxt);                                                                          \
        return 0;                                                                           \
    }

TRANSPOSE(float, transpose_f32)
TRANSPOSE(double, transpose_f64)
VECTOR_OPS(float)
VECTOR_OPS(double)
/* Spelled out lane by lane: GCC compiles this, but not `s - (vec){0}`, to one broadcast. */
INLINE vec_float splat_float(float s) { return (vec_float){s, s, s, s, s, s, s, s}; }
INLINE vec_double splat_double(double s) { return (vec_double){s, s, s, s}; }
PAD_SAMPLE(float)
PAD_SAMPLE(double)
DIRECT_VARIANTS(float)
DIRECT_VARIANTS(double)
DIRECT_EXPORTS(float, f32, transpose_f32)
DIRECT_EXPORTS(double, f64, transpose_f64)
IM2COL(float, im2col_f32, transpose_f32)
IM2COL(double, im2col_f64, transpose_f64)
COL2IM(float, col2im_f32, transpose_f32)
COL2IM(double, col2im_f64, transpose_f64)
MAXPOOL(float, maxpool_f32)
MAXPOOL(double, maxpool_f64)
MAXPOOL_DISJOINT(float, maxpool_disjoint_f32)
MAXPOOL_DISJOINT(double, maxpool_disjoint_f64)
MAXPOOL_SCATTER(float, maxpool_scatter_f32)
MAXPOOL_SCATTER(double, maxpool_scatter_f64)
MAXPOOL_SCATTER_DISJOINT(float, maxpool_scatter_disjoint_f32)
MAXPOOL_SCATTER_DISJOINT(double, maxpool_scatter_disjoint_f64)

/* The library is built as a Python extension so that pip compiles it, but it is loaded with
 * ctypes, never imported; this symbol only satisfies linkers that require it. */
void *PyInit__kernels(void) { return 0; }
