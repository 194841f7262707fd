/*
 * biogate sharpness kernels — see sharpness_kernels.h.
 *
 * Speed comes from three choices: one pass over the pixels, 16-bit lanes for the
 * per-pixel response (|Laplacian|, |Sobel| <= 1020 fit int16) with int32 chunk
 * accumulators flushed to int64 before they can overflow, and no branches in the
 * inner loops so GCC/Clang vectorise them (pmaddwd on x86, smlal on aarch64).
 * On x86-64 GCC builds an AVX2 clone of the contiguous loops and picks it at load
 * time (function multi-versioning); every other CPU runs the same C, vectorised
 * for its baseline (SSE2 on x86-64, NEON on aarch64).
 */
#include "sharpness_kernels.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__linux__)
#define BG_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#define BG_HAVE_CLONES 1
#else
#define BG_MULTIVERSION
#define BG_HAVE_CLONES 0
#endif

/* Pixels per int32 accumulator flush: max square 1040400 (Laplacian), 2*1040400 (Sobel). */
#define BG_LAP_CHUNK 2048
#define BG_SOBEL_CHUNK 1024

/* OpenCV BORDER_REFLECT_101 for a one-pixel overshoot: -1 -> 1, n -> n-2, n==1 -> 0. */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    if (i < 0)
        return -i;
    if (i >= n)
        return 2 * n - 2 - i;
    return i;
}

static const uint8_t *row_ptr(const bg_plane *p, int y)
{
    return p->base + (ptrdiff_t)reflect101(y, p->height) * p->row_stride;
}

static int px(const uint8_t *row, ptrdiff_t ps, int x, int w)
{
    return row[(ptrdiff_t)reflect101(x, w) * ps];
}

/* ---------------------------------------------------------------- Laplacian */

static int lap_at(const uint8_t *up, const uint8_t *md, const uint8_t *dn, ptrdiff_t ps, int x, int w)
{
    return px(up, ps, x, w) + px(dn, ps, x, w) + px(md, ps, x - 1, w) + px(md, ps, x + 1, w) -
           4 * px(md, ps, x, w);
}

/* Interior columns 1..w-2 of every row, contiguous pixels: the hot loop. */
BG_MULTIVERSION
static void lap_interior_contig(const bg_plane *p, int64_t *s1, uint64_t *s2)
{
    const int w = p->width;
    int64_t sum = 0;
    uint64_t sumsq = 0;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *restrict up = row_ptr(p, y - 1);
        const uint8_t *restrict md = row_ptr(p, y);
        const uint8_t *restrict dn = row_ptr(p, y + 1);
        for (int x0 = 1; x0 < w - 1; x0 += BG_LAP_CHUNK) {
            const int xe = (x0 + BG_LAP_CHUNK < w - 1) ? x0 + BG_LAP_CHUNK : w - 1;
            int32_t a1 = 0, a2 = 0;
            for (int x = x0; x < xe; x++) {
                const int16_t l = (int16_t)(up[x] + dn[x] + md[x - 1] + md[x + 1] - 4 * md[x]);
                a1 += l;
                a2 += (int32_t)l * l;
            }
            sum += a1;
            sumsq += (uint32_t)a2;
        }
    }
    *s1 = sum;
    *s2 = sumsq;
}

#if BG_HAVE_CLONES
#include <immintrin.h>

/*
 * Hand-vectorised AVX2 Laplacian for the interior columns: 32 pixels per step with
 * in-lane byte->word unpacks (lane order is irrelevant to a sum), pmaddwd for the
 * squares and for the plain sum.  Each int32 lane takes at most 4 squares per step
 * (4 * 1040400), so the accumulators are flushed to 64 bits every 512 steps.
 */
__attribute__((target("avx2"))) static void lap_interior_avx2(const bg_plane *p, int64_t *s1, uint64_t *s2)
{
    const int w = p->width;
    const __m256i zero = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    int64_t sum = 0;
    uint64_t sumsq = 0;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *up = row_ptr(p, y - 1), *md = row_ptr(p, y), *dn = row_ptr(p, y + 1);
        int x = 1;
        while (x + 32 <= w - 1) {
            __m256i acc1 = zero, acc2 = zero;
            for (int steps = 0; steps < 512 && x + 32 <= w - 1; steps++, x += 32) {
                const __m256i u = _mm256_loadu_si256((const __m256i *)(up + x));
                const __m256i d = _mm256_loadu_si256((const __m256i *)(dn + x));
                const __m256i l = _mm256_loadu_si256((const __m256i *)(md + x - 1));
                const __m256i r = _mm256_loadu_si256((const __m256i *)(md + x + 1));
                const __m256i m = _mm256_loadu_si256((const __m256i *)(md + x));
                const __m256i nlo = _mm256_add_epi16(
                    _mm256_add_epi16(_mm256_unpacklo_epi8(u, zero), _mm256_unpacklo_epi8(d, zero)),
                    _mm256_add_epi16(_mm256_unpacklo_epi8(l, zero), _mm256_unpacklo_epi8(r, zero)));
                const __m256i nhi = _mm256_add_epi16(
                    _mm256_add_epi16(_mm256_unpackhi_epi8(u, zero), _mm256_unpackhi_epi8(d, zero)),
                    _mm256_add_epi16(_mm256_unpackhi_epi8(l, zero), _mm256_unpackhi_epi8(r, zero)));
                const __m256i llo = _mm256_sub_epi16(nlo, _mm256_slli_epi16(_mm256_unpacklo_epi8(m, zero), 2));
                const __m256i lhi = _mm256_sub_epi16(nhi, _mm256_slli_epi16(_mm256_unpackhi_epi8(m, zero), 2));
                acc2 = _mm256_add_epi32(acc2, _mm256_add_epi32(_mm256_madd_epi16(llo, llo), _mm256_madd_epi16(lhi, lhi)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_add_epi16(llo, lhi), ones));
            }
            int32_t a1[8];
            uint32_t a2[8];
            _mm256_storeu_si256((__m256i *)a1, acc1);
            _mm256_storeu_si256((__m256i *)a2, acc2);
            for (int k = 0; k < 8; k++) {
                sum += a1[k];
                sumsq += a2[k];
            }
        }
        for (; x < w - 1; x++) {
            const int l = up[x] + dn[x] + md[x - 1] + md[x + 1] - 4 * md[x];
            sum += l;
            sumsq += (uint64_t)(l * l);
        }
    }
    *s1 = sum;
    *s2 = sumsq;
}

static int have_avx2(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return cached;
}
#endif

static void lap_interior_strided(const bg_plane *p, int64_t *s1, uint64_t *s2)
{
    const ptrdiff_t ps = p->px_stride;
    int64_t sum = 0;
    uint64_t sumsq = 0;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *up = row_ptr(p, y - 1), *md = row_ptr(p, y), *dn = row_ptr(p, y + 1);
        for (int x = 1; x < p->width - 1; x++) {
            const ptrdiff_t o = (ptrdiff_t)x * ps;
            const int l = up[o] + dn[o] + md[o - ps] + md[o + ps] - 4 * md[o];
            sum += l;
            sumsq += (uint64_t)(l * l);
        }
    }
    *s1 = sum;
    *s2 = sumsq;
}

void bg_laplacian_moments(const bg_plane *p, bg_moments *out)
{
    const int w = p->width;
    int64_t sum = 0;
    uint64_t sumsq = 0;
    if (w >= 3) {
        if (p->px_stride == 1) {
#if BG_HAVE_CLONES
            if (have_avx2())
                lap_interior_avx2(p, &sum, &sumsq);
            else
#endif
                lap_interior_contig(p, &sum, &sumsq);
        }
        else
            lap_interior_strided(p, &sum, &sumsq);
    }
    /* Border columns (0 and w-1, or all columns when w < 3) go through the reflecting path. */
    for (int y = 0; y < p->height; y++) {
        const uint8_t *up = row_ptr(p, y - 1), *md = row_ptr(p, y), *dn = row_ptr(p, y + 1);
        /* With w >= 3 only columns 0 and w-1; narrower images are all border. */
        const int x_step = (w >= 3) ? w - 1 : 1;
        for (int x = 0; x < w; x += x_step) {
            const int l = lap_at(up, md, dn, p->px_stride, x, w);
            sum += l;
            sumsq += (uint64_t)(l * l);
        }
    }
    out->sum = sum;
    out->sumsq = sumsq;
    out->count = (uint64_t)w * (uint64_t)p->height;
}

/* ------------------------------------------------------------------ Brenner */

BG_MULTIVERSION
static uint64_t brenner_contig(const bg_plane *p)
{
    uint64_t total = 0;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *restrict r = p->base + (ptrdiff_t)y * p->row_stride;
        for (int x0 = 0; x0 < p->width - 2; x0 += BG_LAP_CHUNK) {
            const int xe = (x0 + BG_LAP_CHUNK < p->width - 2) ? x0 + BG_LAP_CHUNK : p->width - 2;
            int32_t acc = 0;
            for (int x = x0; x < xe; x++) {
                const int16_t d = (int16_t)(r[x + 2] - r[x]);
                acc += (int32_t)d * d;
            }
            total += (uint32_t)acc;
        }
    }
    return total;
}

void bg_brenner_moments(const bg_plane *p, bg_moments *out)
{
    uint64_t total = 0;
    if (p->width >= 3) {
        if (p->px_stride == 1) {
            total = brenner_contig(p);
        } else {
            const ptrdiff_t ps = p->px_stride;
            for (int y = 0; y < p->height; y++) {
                const uint8_t *r = p->base + (ptrdiff_t)y * p->row_stride;
                for (int x = 0; x < p->width - 2; x++) {
                    const int d = r[(ptrdiff_t)(x + 2) * ps] - r[(ptrdiff_t)x * ps];
                    total += (uint64_t)(d * d);
                }
            }
        }
    }
    out->sum = 0;
    out->sumsq = total;
    out->count = p->width >= 3 ? (uint64_t)(p->width - 2) * (uint64_t)p->height : 0;
}

/* ---------------------------------------------------------------- Tenengrad */

static uint32_t sobel_sq_at(const uint8_t *up, const uint8_t *md, const uint8_t *dn, ptrdiff_t ps, int x, int w)
{
    const int gx = (px(up, ps, x + 1, w) + 2 * px(md, ps, x + 1, w) + px(dn, ps, x + 1, w)) -
                   (px(up, ps, x - 1, w) + 2 * px(md, ps, x - 1, w) + px(dn, ps, x - 1, w));
    const int gy = (px(dn, ps, x - 1, w) + 2 * px(dn, ps, x, w) + px(dn, ps, x + 1, w)) -
                   (px(up, ps, x - 1, w) + 2 * px(up, ps, x, w) + px(up, ps, x + 1, w));
    return (uint32_t)(gx * gx + gy * gy);
}

BG_MULTIVERSION
static uint64_t tenengrad_interior_contig(const bg_plane *p, uint32_t thresh_sq)
{
    const int w = p->width;
    uint64_t total = 0;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *restrict up = row_ptr(p, y - 1);
        const uint8_t *restrict md = row_ptr(p, y);
        const uint8_t *restrict dn = row_ptr(p, y + 1);
        for (int x0 = 1; x0 < w - 1; x0 += BG_SOBEL_CHUNK) {
            const int xe = (x0 + BG_SOBEL_CHUNK < w - 1) ? x0 + BG_SOBEL_CHUNK : w - 1;
            int32_t acc = 0;
            for (int x = x0; x < xe; x++) {
                const int16_t gx = (int16_t)(up[x + 1] + 2 * md[x + 1] + dn[x + 1] - up[x - 1] -
                                             2 * md[x - 1] - dn[x - 1]);
                const int16_t gy = (int16_t)(dn[x - 1] + 2 * dn[x] + dn[x + 1] - up[x - 1] - 2 * up[x] -
                                             up[x + 1]);
                const int32_t g2 = (int32_t)gx * gx + (int32_t)gy * gy;
                acc += ((uint32_t)g2 > thresh_sq) ? g2 : 0;
            }
            total += (uint32_t)acc;
        }
    }
    return total;
}

void bg_tenengrad_moments(const bg_plane *p, uint32_t thresh_sq, bg_moments *out)
{
    const int w = p->width;
    const ptrdiff_t ps = p->px_stride;
    uint64_t total = 0;
    const int fast = (w >= 3 && ps == 1);
    if (fast)
        total = tenengrad_interior_contig(p, thresh_sq);
    for (int y = 0; y < p->height; y++) {
        const uint8_t *up = row_ptr(p, y - 1), *md = row_ptr(p, y), *dn = row_ptr(p, y + 1);
        /* The fast loop did columns 1..w-2; the slow one does the rest with reflection. */
        const int x_step = (fast && w >= 3) ? w - 1 : 1;
        for (int x = 0; x < w; x += x_step) {
            const uint32_t g2 = sobel_sq_at(up, md, dn, ps, x, w);
            total += (g2 > thresh_sq) ? g2 : 0;
        }
    }
    out->sum = 0;
    out->sumsq = total;
    out->count = (uint64_t)w * (uint64_t)p->height;
}

/* ------------------------------------------------------------------ helpers */

double bg_variance(const bg_moments *m)
{
    if (m->count == 0)
        return 0.0;
    const double n = (double)m->count;
#if defined(__SIZEOF_INT128__)
    /* var * n^2 = n*S2 - S1^2 exactly; one rounding at the end. */
    const unsigned __int128 a = (unsigned __int128)m->count * m->sumsq;
    const __int128 s1 = m->sum;
    const unsigned __int128 b = (unsigned __int128)(s1 < 0 ? -s1 : s1) * (unsigned __int128)(s1 < 0 ? -s1 : s1);
    const unsigned __int128 num = a - b; /* >= 0 by Cauchy-Schwarz */
    return (double)num / (n * n);
#else
    const double mean = (double)m->sum / n;
    return (double)m->sumsq / n - mean * mean;
#endif
}

const char *bg_simd_path(void)
{
#if BG_HAVE_CLONES
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? "avx2" : "sse2";
#elif defined(__aarch64__) || defined(__ARM_NEON)
    return "neon";
#elif defined(__x86_64__) || defined(_M_X64)
    return "sse2";
#else
    return "generic";
#endif
}
