/*
 * biogate sharpness kernels: plain C99, no allocation, no Python.
 *
 * A plane is a read-only 8-bit image addressed by a row stride and a pixel stride
 * (bytes), so the same kernels score a gray image, the Y plane of NV12 (pixel
 * stride 1) and the Y samples of packed YUYV (pixel stride 2), with decimation
 * folded into the strides.  Borders follow OpenCV's BORDER_REFLECT_101, so the
 * results equal OpenCV's on the same (cropped, decimated) image.
 */
#ifndef BIOGATE_SHARPNESS_KERNELS_H
#define BIOGATE_SHARPNESS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *base;   /* first pixel of the region scored */
    ptrdiff_t row_stride;  /* bytes between rows, > 0 */
    ptrdiff_t px_stride;   /* bytes between pixels in a row, > 0 */
    int width;             /* pixels per row, >= 1 */
    int height;            /* rows, >= 1 */
} bg_plane;

/* Exact integer moments of a response over a plane: sum, sum of squares, count. */
typedef struct {
    int64_t sum;
    uint64_t sumsq;
    uint64_t count;
} bg_moments;

/* Laplacian (3x3, ksize=1 aperture: 0 1 0 / 1 -4 1 / 0 1 0) moments. */
void bg_laplacian_moments(const bg_plane *p, bg_moments *out);

/* Brenner: sum of (I[x+2] - I[x])^2 along rows; count = height * (width - 2). */
void bg_brenner_moments(const bg_plane *p, bg_moments *out);

/* Tenengrad: sum of Gx^2 + Gy^2 (3x3 Sobel) where it exceeds thresh_sq; count = pixels. */
void bg_tenengrad_moments(const bg_plane *p, uint32_t thresh_sq, bg_moments *out);

/* Population variance from moments, computed exactly in integers where the compiler allows. */
double bg_variance(const bg_moments *m);

/* Name of the vector code path the kernels use on this CPU ("avx2", "sse2", "neon", "generic"). */
const char *bg_simd_path(void);

#endif
