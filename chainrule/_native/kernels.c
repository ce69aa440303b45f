/* chainrule's optional compiled kernels: the data-movement loops of convolution and max
 * pooling, which NumPy can only run as many short strided copies, and ReLU.
 *
 * Every kernel computes exactly what the NumPy path computes, in the same order of floating
 * point additions, so results are identical with or without this library. The arithmetic
 * of a convolution stays in NumPy's matrix products; only the copies around them are here.
 *
 * Plain C99, no Python headers: chainrule loads the library with ctypes. Each kernel is
 * written once as a macro over the element type and instantiated for float and double.
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

/* Plain loops over long arrays, compiled also for AVX2 and picked at load time where the CPU
 * has it (GCC and Clang on x86-64 with glibc); elsewhere the baseline build alone. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define WIDE_VECTORS __attribute__((target_clones("avx2", "default")))
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

TRANSPOSE(float, transpose_f32)
TRANSPOSE(double, transpose_f64)
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
