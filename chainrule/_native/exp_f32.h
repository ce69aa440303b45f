/* Shared by kernels.c and attention.c: the exponential of the single-precision kernels, short
 * and branch-free so that the compiler turns its loops into vector instructions. */
#ifndef CHAINRULE_EXP_F32_H
#define CHAINRULE_EXP_F32_H

#include <math.h>
#include <stdint.h>

/* e^x to about 1 ulp: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by Cephes' polynomial, 2^n
 * written into the exponent bits. */
static inline float exp_f32(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    float n = floorf(x * 1.44269504f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
                + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    union { int32_t bits; float value; } scale = {.bits = ((int32_t)n + 127) << 23};
    return (p * r * r + r + 1) * scale.value;
}

#endif
