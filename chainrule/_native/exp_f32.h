/* Shared by kernels.c and attention.c: the exponential of the single-precision kernels, short
 * and branch-free so that the compiler turns its loops into vector instructions. */
#ifndef CHAINRULE_EXP_F32_H
#define CHAINRULE_EXP_F32_H

#include <math.h>
#include <stdint.h>

/* e^x to about 1 ulp for x in [-87.3, 88.7], where 2^n is a normal float (callers clamp
 * their arguments: clamps here cost a fifth of GELU's time): x = n ln 2 + r with
 * |r| <= ln 2 / 2, e^r by Cephes' polynomial, 2^n written into the exponent bits. Adding
 * 1.5 * 2^23 rounds x / ln 2 to the integer n and leaves n in the low bits of the sum. */
static inline float exp_f32(float x) {
    union { float value; int32_t bits; } shifted = {.value = x * 1.44269504f + 12582912.0f};
    float n = shifted.value - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
                + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    union { int32_t bits; float value; } scale = {.bits = (shifted.bits << 23) + (127 << 23)};
    return (p * r * r + r + 1) * scale.value;
}

/* e^x for x <= 0: 0 below e^-87.3, where exp_f32 would leave the normal floats. */
static inline float exp_nonpositive_f32(float x) {
    float inside = x > -87.3f ? x : -87.3f, e = exp_f32(inside);
    return x > -87.3f ? e : 0;
}

#endif
