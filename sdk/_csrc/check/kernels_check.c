/*
 * Cross-architecture check of the sharpness kernels against a naive reference.
 *
 * Built and run on the host by tests/test_native_cross.py, and for aarch64 under qemu when a
 * cross compiler is present, so the NEON-vectorised build (Jetson, Raspberry Pi) is checked
 * for the same exact integer moments as x86:
 *
 *   aarch64-linux-gnu-gcc -O3 -std=c99 -I.. kernels_check.c ../sharpness_kernels.c -o check
 *   qemu-aarch64 -L /usr/aarch64-linux-gnu ./check
 */
#include <stdio.h>
#include <stdlib.h>

#include "sharpness_kernels.h"

static unsigned rng_state = 12345u;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xFFFFFFu;
}

static int refl(int i, int n)
{
    if (n == 1)
        return 0;
    if (i < 0)
        return -i;
    if (i >= n)
        return 2 * n - 2 - i;
    return i;
}

static int at(const bg_plane *p, int x, int y)
{
    return p->base[(ptrdiff_t)refl(y, p->height) * p->row_stride + (ptrdiff_t)refl(x, p->width) * p->px_stride];
}

static void reference(const bg_plane *p, bg_moments *lap, bg_moments *bren, bg_moments *ten)
{
    lap->sum = 0, lap->sumsq = 0, lap->count = (uint64_t)p->width * p->height;
    bren->sum = 0, bren->sumsq = 0, bren->count = p->width >= 3 ? (uint64_t)(p->width - 2) * p->height : 0;
    ten->sum = 0, ten->sumsq = 0, ten->count = lap->count;
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++) {
            const long l = at(p, x, y - 1) + at(p, x, y + 1) + at(p, x - 1, y) + at(p, x + 1, y) - 4 * at(p, x, y);
            lap->sum += l;
            lap->sumsq += (uint64_t)(l * l);
            const long gx = at(p, x + 1, y - 1) + 2 * at(p, x + 1, y) + at(p, x + 1, y + 1) - at(p, x - 1, y - 1) -
                            2 * at(p, x - 1, y) - at(p, x - 1, y + 1);
            const long gy = at(p, x - 1, y + 1) + 2 * at(p, x, y + 1) + at(p, x + 1, y + 1) - at(p, x - 1, y - 1) -
                            2 * at(p, x, y - 1) - at(p, x + 1, y - 1);
            ten->sumsq += (uint64_t)(gx * gx + gy * gy);
            if (x + 2 < p->width) {
                const long d = at(p, x + 2, y) - at(p, x, y);
                bren->sumsq += (uint64_t)(d * d);
            }
        }
}

static int same(const char *what, const bg_plane *p, const bg_moments *a, const bg_moments *b)
{
    if (a->sum == b->sum && a->sumsq == b->sumsq && a->count == b->count)
        return 1;
    printf("MISMATCH %s %dx%d stride %td/%td: %lld/%llu/%llu vs %lld/%llu/%llu\n", what, p->width, p->height,
           p->row_stride, p->px_stride, (long long)a->sum, (unsigned long long)a->sumsq,
           (unsigned long long)a->count, (long long)b->sum, (unsigned long long)b->sumsq,
           (unsigned long long)b->count);
    return 0;
}

int main(void)
{
    static const int sizes[][2] = {{1, 1}, {2, 2}, {3, 3}, {1, 9}, {9, 1}, {5, 7}, {33, 17}, {64, 64},
                                   {100, 37}, {257, 31}, {1920, 9}, {4100, 3}, {2050, 5}};
    int failures = 0, cases = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int pxs = 1; pxs <= 2; pxs++)
            for (int extreme = 0; extreme <= 1; extreme++) {
                const int w = sizes[s][0], h = sizes[s][1];
                const ptrdiff_t row = (ptrdiff_t)w * pxs + 3; /* padded rows: any stride */
                uint8_t *buf = malloc((size_t)(row * h));
                for (ptrdiff_t i = 0; i < row * h; i++)
                    buf[i] = extreme ? (uint8_t)(((i / pxs) + (i / row)) % 2 * 255) : (uint8_t)rnd();
                const bg_plane p = {buf, row, pxs, w, h};
                bg_moments l1, b1, t1, l2, b2, t2;
                bg_laplacian_moments(&p, &l1);
                bg_brenner_moments(&p, &b1);
                bg_tenengrad_moments(&p, 0, &t1);
                reference(&p, &l2, &b2, &t2);
                failures += !same("laplacian", &p, &l1, &l2) + !same("brenner", &p, &b1, &b2) +
                            !same("tenengrad", &p, &t1, &t2);
                cases += 3;
                free(buf);
            }
    printf("%s: %d/%d kernel cases exact (simd path %s)\n", failures ? "FAIL" : "ok", cases - failures, cases,
           bg_simd_path());
    return failures != 0;
}
