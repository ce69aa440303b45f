/* Scaled dot-product attention, softmax(q k^T * scale + mask) v, forward and backward, with no
 * mask or the causal one (query row i sees keys 0..i), one (batch, head) pair at a time.
 *
 * Each matrix product of a pair runs over register tiles: a tile of output rows times one or two
 * vectors of columns sums, over the inner dimension, scalars of the left operand times vectors
 * of the right one. The left operand is read at any strides, so q, the softmax probabilities P
 * and their gradient serve in place, transposed or not; the right one must have unit column
 * stride and rows padded to whole tiles, so k, v, q and the output gradient are first copied
 * (or transposed) into small zero-padded tiles, which is also what lets them have any strides:
 * heads split off one tensor need no copy of their own. Causal products skip the tiles that the
 * mask leaves at zero.
 *
 * The forward writes P, (B, H, L, S) contiguous, for the backward, which follows the NumPy
 * path's formulas (attention.py):
 *     dV = P^T G     dP = G V^T     dS = P * (dP - rowsum(dP * P))
 *     dQ = dS K * scale             dK = dS^T Q * scale
 *
 * Geometry `g` (int64): g[0..6] = B, H, L, S, E, Ev, causal; then the element strides of the
 * four dimensions (B, H, rows, columns) of each array in turn: q, k, v, out (forward); q, k, v,
 * grad, dq, dk, dv (backward). The outputs' column stride must be 1.
 *
 * Two builds, picked at run time: one for AVX2 and FMA, one for any CPU (kernels.c's
 * direct_level(), which tests may cap, says which). Single precision uses exp_f32.h's
 * exponential, double precision libm's; results agree with the NumPy path to rounding. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exp_f32.h"

int direct_level(void); /* kernels.c: 0 without AVX2 and FMA (or capped) */

#if defined(__x86_64__) || defined(__i386__)
#define FAST_TARGET __attribute__((target("avx2,fma")))
#else
#define FAST_TARGET
#endif
#define PLAIN_TARGET
#define INLINE static inline __attribute__((always_inline))

#define ROWS 4    /* rows of a register tile */
#define COLUMNS 2 /* vectors of a register tile */
typedef float avec_float __attribute__((vector_size(32)));
typedef double avec_double __attribute__((vector_size(32)));
typedef int32_t amask_float __attribute__((vector_size(32))); /* what comparisons give */
typedef int64_t amask_double __attribute__((vector_size(32)));
/* GCC from version 12 and Clang have __builtin_shufflevector. Broadcasts are then one
 * instruction: GCC 12 compiles the lanes spelled out, or `s + (avec){0}`, to eight inserts,
 * which made the products three times slower. */
#if defined(__clang__) || __GNUC__ >= 12
#define SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
INLINE avec_float splat_float(float s) {
    const avec_float one = {s};
    return SHUFFLE(one, one, 0, 0, 0, 0, 0, 0, 0, 0);
}
INLINE avec_double splat_double(double s) {
    const avec_double one = {s};
    return SHUFFLE(one, one, 0, 0, 0, 0);
}
#else
INLINE avec_float splat_float(float s) { return (avec_float){s, s, s, s, s, s, s, s}; }
INLINE avec_double splat_double(double s) { return (avec_double){s, s, s, s}; }
#endif

/* dst[i * ld + j] = src[j * stride + i] for a square block of one vector's lanes: a transpose
 * in shuffles, 4x faster than element by element, or, without shuffles, element by element. */
INLINE void transpose_block_float(const float *src, int64_t stride, float *dst, int64_t ld) {
#ifdef SHUFFLE
    avec_float r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) memcpy(&r[i], src + i * stride, sizeof r[i]);
    for (int i = 0; i < 8; i += 2) {
        t[i] = SHUFFLE(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = SHUFFLE(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            u[i + 2 * h] = SHUFFLE(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * h + 1] = SHUFFLE(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int i = 0; i < 4; i++) {
        const avec_float low = SHUFFLE(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        const avec_float high = SHUFFLE(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        memcpy(dst + i * ld, &low, sizeof low);
        memcpy(dst + (i + 4) * ld, &high, sizeof high);
    }
#else
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) dst[i * ld + j] = src[j * stride + i];
#endif
}
INLINE void transpose_block_double(const double *src, int64_t stride, double *dst, int64_t ld) {
#ifdef SHUFFLE
    avec_double r[4], t[4];
    for (int i = 0; i < 4; i++) memcpy(&r[i], src + i * stride, sizeof r[i]);
    for (int i = 0; i < 4; i += 2) {
        t[i] = SHUFFLE(r[i], r[i + 1], 0, 4, 2, 6);
        t[i + 1] = SHUFFLE(r[i], r[i + 1], 1, 5, 3, 7);
    }
    for (int i = 0; i < 2; i++) {
        const avec_double low = SHUFFLE(t[i], t[i + 2], 0, 1, 4, 5);
        const avec_double high = SHUFFLE(t[i], t[i + 2], 2, 3, 6, 7);
        memcpy(dst + i * ld, &low, sizeof low);
        memcpy(dst + (i + 2) * ld, &high, sizeof high);
    }
#else
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) dst[i * ld + j] = src[j * stride + i];
#endif
}

/* Which products skip what the causal mask zeroes, for a tile of rows [i, i + R):
 * KEYS_BELOW sums the inner index k < i + R (P and dS are zero beyond the diagonal),
 * KEYS_ABOVE k >= i (their transposes), COLUMNS_BELOW computes columns n < i + R (scores). */
enum { FULL, KEYS_BELOW, KEYS_ABOVE, COLUMNS_BELOW };

/* `bytes` of zeros from a 64-byte boundary: the tiles' rows, whole multiples of 64 bytes, then
 * never straddle cache lines (7 % of the time at the GPT shape); `*block` is what to free. */
static void *aligned_zeros(size_t bytes, void **block) {
    *block = calloc(bytes + 64, 1);
    return *block ? (void *)(((uintptr_t)*block + 63) & ~(uintptr_t)63) : NULL;
}

static int64_t padded(int64_t n, int64_t lanes) {
    const int64_t tile = COLUMNS * lanes;
    return (n + tile - 1) / tile * tile;
}

#define ATTENTION_HELPERS(T)                                                                \
    enum { LANES_##T = sizeof(avec_##T) / sizeof(T) };                                      \
    INLINE avec_##T load_##T(const T *p) { avec_##T v; memcpy(&v, p, sizeof v); return v; } \
    /* c[r][0..width) = alpha * sum over k in [k0, k1) of a[r * ar + k * ak] * b[k * ldb ..]  \
     * for r < R; b holds COLUMNS whole vectors from each row. */                           \
    INLINE void tile_##T(int R, const T *a, int64_t ar, int64_t ak, const T *b, int64_t ldb,  \
                         int64_t k0, int64_t k1, T *c, int64_t ldc, int64_t width, T alpha) { \
        avec_##T acc[ROWS][COLUMNS];                                                        \
        for (int r = 0; r < ROWS; r++)                                                      \
            for (int v = 0; v < COLUMNS; v++) acc[r][v] = splat_##T(0);                     \
        for (int64_t k = k0; k < k1; k++) {                                                 \
            avec_##T bv[COLUMNS];                                                           \
            for (int v = 0; v < COLUMNS; v++) bv[v] = load_##T(b + k * ldb + v * LANES_##T); \
            for (int r = 0; r < R; r++) {                                                   \
                const avec_##T av = splat_##T(a[r * ar + k * ak]);                          \
                for (int v = 0; v < COLUMNS; v++) acc[r][v] += av * bv[v];                  \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < R; r++)                                                         \
            for (int v = 0; v < COLUMNS && v * LANES_##T < width; v++) {                    \
                const avec_##T out = acc[r][v] * alpha;                                     \
                T *to = c + r * ldc + v * LANES_##T;                                        \
                if (width - v * LANES_##T >= LANES_##T) /* a fixed size: one vector store */ \
                    memcpy(to, &out, sizeof out);                                           \
                else                                                                        \
                    memcpy(to, &out, (width - v * LANES_##T) * sizeof(T));                  \
            }                                                                               \
    }                                                                                       \
    /* c (M x N) = alpha * a (M x K) b (K x N), skipping what `skip` says is zero. */        \
    INLINE void product_##T(int64_t M, int64_t N, int64_t K, const T *a, int64_t ar, int64_t ak, \
                            const T *b, int64_t ldb, T *c, int64_t ldc, T alpha, int skip) { \
        for (int64_t i = 0; i < M; i += ROWS) {                                             \
            const int R = M - i < ROWS ? (int)(M - i) : ROWS;                               \
            const int64_t below = i + R < K ? i + R : K, left = i + R < N ? i + R : N;      \
            const int64_t k0 = skip == KEYS_ABOVE ? (i < K ? i : K) : 0;                    \
            const int64_t k1 = skip == KEYS_BELOW ? below : K;                              \
            const int64_t n1 = skip == COLUMNS_BELOW ? left : N;                            \
            for (int64_t n = 0; n < n1; n += COLUMNS * LANES_##T) {                         \
                const int64_t width = n1 - n < COLUMNS * LANES_##T ? n1 - n : COLUMNS * LANES_##T; \
                if (R == ROWS)                                                              \
                    tile_##T(ROWS, a + i * ar, ar, ak, b + n, ldb, k0, k1, c + i * ldc + n, ldc, \
                             width, alpha);                                                 \
                else                                                                        \
                    for (int r = 0; r < R; r++)                                             \
                        tile_##T(1, a + (i + r) * ar, ar, ak, b + n, ldb, k0, k1,           \
                                 c + (i + r) * ldc + n, ldc, width, alpha);                 \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    /* dst[r * ld + c] = src[r * row + c * col]: a strided matrix into a padded tile; a    \
     * transpose (row 1) goes by square blocks, the rest by elements. */                    \
    INLINE void gather_##T(const T *src, int64_t row, int64_t col, int64_t rows, int64_t cols, \
                           T *dst, int64_t ld) {                                            \
        int64_t r0 = 0, c0 = 0;                                                             \
        if (col == 1) {                                                                     \
            for (int64_t r = 0; r < rows; r++)                                              \
                memcpy(dst + r * ld, src + r * row, cols * sizeof(T));                      \
            return;                                                                         \
        }                                                                                   \
        if (row == 1) {                                                                     \
            r0 = rows / LANES_##T * LANES_##T, c0 = cols / LANES_##T * LANES_##T;          \
            for (int64_t r = 0; r < r0; r += LANES_##T)                                     \
                for (int64_t c = 0; c < c0; c += LANES_##T)                                 \
                    transpose_block_##T(src + r + c * col, col, dst + r * ld + c, ld);      \
        }                                                                                   \
        for (int64_t r = 0; r < rows; r++) /* what no block covered */                     \
            for (int64_t c = r < r0 ? c0 : 0; c < cols; c++)                                \
                dst[r * ld + c] = src[r * row + c * col];                                   \
    }                                                                                       \
    /* The sum, or the largest, of v's lanes, in halves: a tree, not a chain of dependent      \
     * scalar operations (a third of the softmax's time went to those). */                  \
    INLINE T across_##T(avec_##T v, int largest) {                                          \
        T x[LANES_##T];                                                                     \
        memcpy(x, &v, sizeof v);                                                            \
        for (int w = LANES_##T / 2; w >= 1; w /= 2)                                         \
            for (int l = 0; l < w; l++)                                                     \
                x[l] = largest ? (x[l + w] > x[l] ? x[l + w] : x[l]) : x[l] + x[l + w];     \
        return x[0];                                                                        \
    }                                                                                       \
    /* The largest of x[0..n), NaN skipped (as NumPy's fmax), -inf for none. */             \
    INLINE T row_max_##T(const T *x, int64_t n) {                                           \
        avec_##T best = splat_##T(-INFINITY);                                               \
        int64_t j = 0;                                                                      \
        for (; j + LANES_##T <= n; j += LANES_##T) {                                        \
            const avec_##T v = load_##T(x + j);                                             \
            const amask_##T more = v > best;                                                \
            best = (avec_##T)(((amask_##T)v & more) | ((amask_##T)best & ~more));           \
        }                                                                                   \
        T max = across_##T(best, 1);                                                        \
        for (; j < n; j++) max = x[j] > max ? x[j] : max;                                   \
        return max;                                                                         \
    }                                                                                       \
    /* The sum of x[j] * y[j], or of x[j] where y is NULL, for j < n. */                    \
    INLINE T sum_##T(const T *x, const T *y, int64_t n) {                                   \
        avec_##T partial = splat_##T(0);                                                    \
        int64_t j = 0;                                                                      \
        for (; j + LANES_##T <= n; j += LANES_##T)                                          \
            partial += y ? load_##T(x + j) * load_##T(y + j) : load_##T(x + j);            \
        T total = across_##T(partial, 0);                                                   \
        for (; j < n; j++) total += y ? x[j] * y[j] : x[j];                                 \
        return total;                                                                       \
    }

/* The keys query row i sees. */
#define VISIBLE(i) (causal ? ((i) + 1 < S ? (i) + 1 : S) : S)
#define UNPACK_GEOMETRY                                                                     \
    const int64_t B = g[0], H = g[1], L = g[2], S = g[3], E = g[4], Ev = g[5], causal = g[6]; \
    const int64_t *qs = g + 7, *ks = g + 11, *vs = g + 15;

/* out = softmax(q k^T * scale + mask) v and P, for every pair. */
#define ATTENTION_FORWARD(T, BUILD, TARGET, EXP)                                            \
    TARGET static int attention_##T##_##BUILD(const T *q, const T *k, const T *v, T *out,   \
                                              T *probs, const int64_t *g, T scale) {        \
        UNPACK_GEOMETRY                                                                     \
        const int64_t *os = g + 19, lds = padded(S, LANES_##T), ldv = padded(Ev, LANES_##T); \
        void *block;                                                                        \
        T *kt = aligned_zeros((E * lds + S * ldv + L * lds) * sizeof(T), &block);           \
        if (!kt) return -1;                                                                 \
        T *vc = kt + E * lds, *scores = vc + S * ldv;                                       \
        for (int64_t b = 0; b < B; b++)                                                     \
            for (int64_t h = 0; h < H; h++) {                                               \
                const T *qp = q + b * qs[0] + h * qs[1];                                    \
                T *p = probs + (b * H + h) * L * S;                                         \
                gather_##T(k + b * ks[0] + h * ks[1], ks[3], ks[2], E, S, kt, lds);         \
                gather_##T(v + b * vs[0] + h * vs[1], vs[2], vs[3], S, Ev, vc, ldv);        \
                product_##T(L, S, E, qp, qs[2], qs[3], kt, lds, scores, lds, scale,         \
                            causal ? COLUMNS_BELOW : FULL);                                 \
                for (int64_t i = 0; i < L; i++) {                                           \
                    /* In place, over whole vectors (what lies past the seen keys, in the   \
                     * padding or masked, is finite and unused): no scalar remainders. */   \
                    T *s = scores + i * lds;                                                \
                    const int64_t seen = VISIBLE(i);                                        \
                    const int64_t whole = (seen + LANES_##T - 1) / LANES_##T * LANES_##T;   \
                    T max = row_max_##T(s, seen);                                           \
                    if (!isfinite(max)) max = 0;                                            \
                    for (int64_t j = 0; j < whole; j++) s[j] = EXP(s[j] - max);             \
                    T total = sum_##T(s, NULL, seen);                                       \
                    /* times the reciprocal: a division per key took an eighth of the time */ \
                    const T reciprocal = 1 / (total == 0 ? 1 : total);                      \
                    for (int64_t j = 0; j < seen; j++) p[i * S + j] = s[j] * reciprocal;    \
                    memset(p + i * S + seen, 0, (S - seen) * sizeof(T));                   \
                }                                                                           \
                product_##T(L, Ev, S, p, S, 1, vc, ldv, out + b * os[0] + h * os[1], os[2], 1, \
                            causal ? KEYS_BELOW : FULL);                                    \
            }                                                                               \
        free(block);                                                                        \
        return 0;                                                                           \
    }

/* dq, dk, dv from the output gradient and P, for every pair. */
#define ATTENTION_BACKWARD(T, BUILD, TARGET)                                                \
    TARGET static int attention_grad_##T##_##BUILD(                                         \
        const T *q, const T *k, const T *v, const T *probs, const T *grad, T *dq, T *dk,    \
        T *dv, const int64_t *g, T scale) {                                                 \
        UNPACK_GEOMETRY                                                                     \
        const int64_t *gs = g + 19, *dqs = g + 23, *dks = g + 27, *dvs = g + 31;            \
        const int64_t lds = padded(S, LANES_##T), lde = padded(E, LANES_##T),               \
                      ldv = padded(Ev, LANES_##T);                                          \
        void *block;                                                                        \
        T *vt = aligned_zeros((Ev * lds + L * ldv + S * lde + L * lde + L * lds + L * S)     \
                              * sizeof(T), &block);                                         \
        if (!vt) return -1;                                                                 \
        T *gc = vt + Ev * lds, *kc = gc + L * ldv, *qc = kc + S * lde, *dp = qc + L * lde,  \
          *ds = dp + L * lds;                                                               \
        for (int64_t b = 0; b < B; b++)                                                     \
            for (int64_t h = 0; h < H; h++) {                                               \
                const T *p = probs + (b * H + h) * L * S, *gp = grad + b * gs[0] + h * gs[1]; \
                gather_##T(v + b * vs[0] + h * vs[1], vs[3], vs[2], Ev, S, vt, lds);        \
                gather_##T(gp, gs[2], gs[3], L, Ev, gc, ldv);                               \
                gather_##T(k + b * ks[0] + h * ks[1], ks[2], ks[3], S, E, kc, lde);         \
                gather_##T(q + b * qs[0] + h * qs[1], qs[2], qs[3], L, E, qc, lde);         \
                product_##T(S, Ev, L, p, 1, S, gc, ldv, dv + b * dvs[0] + h * dvs[1], dvs[2], 1, \
                            causal ? KEYS_ABOVE : FULL);                                    \
                product_##T(L, S, Ev, gp, gs[2], gs[3], vt, lds, dp, lds, 1,                \
                            causal ? COLUMNS_BELOW : FULL);                                 \
                for (int64_t i = 0; i < L; i++) {                                           \
                    const T *pr = p + i * S, *dpr = dp + i * lds;                           \
                    T *dsr = ds + i * S;                                                    \
                    const int64_t seen = VISIBLE(i);                                        \
                    const T delta = sum_##T(dpr, pr, seen);                                 \
                    for (int64_t j = 0; j < seen; j++) dsr[j] = pr[j] * (dpr[j] - delta);   \
                    for (int64_t j = seen; j < S; j++) dsr[j] = 0;                          \
                }                                                                           \
                product_##T(L, E, S, ds, S, 1, kc, lde, dq + b * dqs[0] + h * dqs[1], dqs[2], \
                            scale, causal ? KEYS_BELOW : FULL);                             \
                product_##T(S, E, L, ds, 1, S, qc, lde, dk + b * dks[0] + h * dks[1], dks[2], \
                            scale, causal ? KEYS_ABOVE : FULL);                             \
            }                                                                               \
        free(block);                                                                        \
        return 0;                                                                           \
    }

#define ATTENTION_EXPORTS(T, SUFFIX, EXP)                                                   \
    ATTENTION_HELPERS(T)                                                                    \
    ATTENTION_FORWARD(T, fast, FAST_TARGET, EXP)                                            \
    ATTENTION_FORWARD(T, plain, PLAIN_TARGET, EXP)                                          \
    ATTENTION_BACKWARD(T, fast, FAST_TARGET)                                                \
    ATTENTION_BACKWARD(T, plain, PLAIN_TARGET)                                              \
    int attention_##SUFFIX(const T *q, const T *k, const T *v, T *out, T *probs,            \
                           const int64_t *g, double scale) {                                \
        return (direct_level() ? attention_##T##_fast : attention_##T##_plain)(             \
            q, k, v, out, probs, g, (T)scale);                                              \
    }                                                                                       \
    int attention_grad_##SUFFIX(const T *q, const T *k, const T *v, const T *probs,         \
                                const T *grad, T *dq, T *dk, T *dv, const int64_t *g,       \
                                double scale) {                                             \
        return (direct_level() ? attention_grad_##T##_fast : attention_grad_##T##_plain)(   \
            q, k, v, probs, grad, dq, dk, dv, g, (T)scale);                                 \
    }

ATTENTION_EXPORTS(float, f32, exp_nonpositive_f32)
ATTENTION_EXPORTS(double, f64, exp)
