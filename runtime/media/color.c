/* Colour coherence on the CPU: match a frame's L*, a*, b* histograms to a
 * reference frame's (Deforum's "colour coherence: match frame 0 LAB"), so a
 * long clip does not drift in tone. Per-channel quantile mapping; not a
 * colour-management library (sRGB/D65 only, no ICC). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rv_media.h"

#define NBINS 1024

/* channel ranges: L* 0..100; a*, b* of sRGB colours stay inside +-128 */
static const float lo[3] = {0.0f, -128.0f, -128.0f}, hi[3] = {100.0f, 128.0f, 128.0f};

static float srgb_to_linear(float c)
{
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

static float linear_to_srgb(float c)
{
    return c <= 0.0031308f ? c * 12.92f : 1.055f * powf(c, 1.0f / 2.4f) - 0.055f;
}

/* D65 white, sRGB primaries (IEC 61966-2-1 matrix) */
static const float wx = 0.95047f, wy = 1.0f, wz = 1.08883f;

static float lab_f(float t)
{
    const float d = 6.0f / 29.0f;
    return t > d * d * d ? cbrtf(t) : t / (3 * d * d) + 4.0f / 29.0f;
}

static float lab_finv(float t)
{
    const float d = 6.0f / 29.0f;
    return t > d ? t * t * t : 3 * d * d * (t - 4.0f / 29.0f);
}

static void to_lab(const uint32_t *px, size_t n, const float *lut, float *lab)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t p = px[i];
        float r = lut[p & 255], g = lut[(p >> 8) & 255], b = lut[(p >> 16) & 255];
        float x = 0.4124564f * r + 0.3575761f * g + 0.1804375f * b;
        float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
        float z = 0.0193339f * r + 0.1191920f * g + 0.9503041f * b;
        float fx = lab_f(x / wx), fy = lab_f(y / wy), fz = lab_f(z / wz);
        lab[3 * i + 0] = 116.0f * fy - 16.0f;
        lab[3 * i + 1] = 500.0f * (fx - fy);
        lab[3 * i + 2] = 200.0f * (fy - fz);
    }
}

static uint32_t from_lab(const float *lab, uint32_t alpha)
{
    float fy = (lab[0] + 16.0f) / 116.0f, fx = fy + lab[1] / 500.0f, fz = fy - lab[2] / 200.0f;
    float x = wx * lab_finv(fx), y = wy * lab_finv(fy), z = wz * lab_finv(fz);
    float rgb[3] = {
        3.2404542f * x - 1.5371385f * y - 0.4985314f * z,
        -0.9692660f * x + 1.8760108f * y + 0.0415560f * z,
        0.0556434f * x - 0.2040259f * y + 1.0572252f * z,
    };
    uint32_t out = alpha;
    for (int c = 0; c < 3; c++) {
        float v = linear_to_srgb(rgb[c] < 0 ? 0 : rgb[c] > 1 ? 1 : rgb[c]) * 255.0f + 0.5f;
        out |= (uint32_t)(v < 0 ? 0 : v > 255 ? 255 : v) << (8 * c);
    }
    return out;
}

static int bin_of(float v, int c)
{
    int b = (int)((v - lo[c]) / (hi[c] - lo[c]) * NBINS);
    return b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b;
}

/* Source bin i holds the quantiles (F(left edge), F(right edge)]; it maps
 * onto the stretch of the reference axis that holds the same quantiles,
 * [map[2i], map[2i+1]], values taken as spread evenly inside a bin. The
 * lower end takes the reference's first value at or after the quantile and
 * the upper end its last value at or before it, so empty bins (8-bit input
 * leaves most of them empty) never stretch a mapping, and identical
 * histograms give the identity. */
static void build_map(const float *src, size_t ns, const float *ref, size_t nr, int c, float *map)
{
    double hs[NBINS] = {0}, hr[NBINS] = {0}, cr[NBINS];
    for (size_t i = 0; i < ns; i++)
        hs[bin_of(src[3 * i + c], c)] += 1;
    for (size_t i = 0; i < nr; i++)
        hr[bin_of(ref[3 * i + c], c)] += 1;
    double acc = 0;
    for (int j = 0; j < NBINS; j++)
        cr[j] = acc += hr[j];
    float w = (hi[c] - lo[c]) / NBINS;
    double cum_s = 0, scale = (double)nr / (double)ns;
    int jl = 0, jh = 0;
    for (int i = 0; i < NBINS; i++) {
        double ql = cum_s * scale, qh = (cum_s + hs[i]) * scale;
        cum_s += hs[i];
        /* lower: the first bin whose cumulative count passes ql */
        while (jl < NBINS - 1 && cr[jl] <= ql)
            jl++;
        /* upper: the first bin whose cumulative count reaches qh */
        while (jh < NBINS - 1 && cr[jh] < qh)
            jh++;
        double fl = hr[jl] > 0 ? (ql - (cr[jl] - hr[jl])) / hr[jl] : 0;
        double fh = hr[jh] > 0 ? (qh - (cr[jh] - hr[jh])) / hr[jh] : 1;
        fl = fl < 0 ? 0 : fl > 1 ? 1 : fl;
        fh = fh < 0 ? 0 : fh > 1 ? 1 : fh;
        map[2 * i] = lo[c] + ((float)jl + (float)fl) * w;
        map[2 * i + 1] = lo[c] + ((float)jh + (float)fh) * w;
    }
}

static float apply_map(const float *map, float v, int c)
{
    int i = bin_of(v, c);
    float w = (hi[c] - lo[c]) / NBINS;
    float f = (v - (lo[c] + (float)i * w)) / w;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    return map[2 * i] + f * (map[2 * i + 1] - map[2 * i]);
}

rv_status rv_color_match_lab(uint32_t *frame, uint32_t width, uint32_t height, const uint32_t *ref,
                             uint32_t ref_width, uint32_t ref_height, float amount, rv_error *err)
{
    if (!width || !height || !ref_width || !ref_height || !(amount >= 0 && amount <= 1))
        return rv_error_set(err, RV_ERR_INVALID, "colour match: bad sizes %ux%u / %ux%u or amount %g", width, height,
                            ref_width, ref_height, (double)amount);
    if (amount == 0)
        return RV_OK;
    size_t n = (size_t)width * height, nr = (size_t)ref_width * ref_height;
    float *lab = malloc(n * 3 * sizeof(float)), *rlab = malloc(nr * 3 * sizeof(float));
    float *map = malloc(3 * 2 * NBINS * sizeof(float));
    if (!lab || !rlab || !map) {
        free(lab);
        free(rlab);
        free(map);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "colour match: out of memory (%ux%u)", width, height);
    }
    float lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = srgb_to_linear((float)i / 255.0f);
    to_lab(frame, n, lut, lab);
    to_lab(ref, nr, lut, rlab);
    for (int c = 0; c < 3; c++)
        build_map(lab, n, rlab, nr, c, map + c * 2 * NBINS);
    for (size_t i = 0; i < n; i++) {
        float m[3];
        for (int c = 0; c < 3; c++) {
            float v = lab[3 * i + c];
            m[c] = v + amount * (apply_map(map + c * 2 * NBINS, v, c) - v);
        }
        frame[i] = from_lab(m, frame[i] & 0xff000000u);
    }
    free(lab);
    free(rlab);
    free(map);
    return RV_OK;
}
