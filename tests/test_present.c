/* The presenter's GPU composite (shaders/composite.comp through
 * rv_present on an offscreen target, lavapipe in ctest) against a C
 * reference written from rv_present.h's description: frame scaling with
 * the aspect kept, letterboxing, premultiplied overlay blending, partial
 * and absent layers, uploads only when a layer changes. Exact match.
 * Not the window path (tests/cli_play.sh covers the swapchain). */
#include <dlfcn.h>
#include <stdint.h>
#include <time.h>

#include "rv_present.h"
#include "rv_test.h"

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static void random_frame(uint32_t *px, size_t n)
{
    for (size_t i = 0; i < n; i++)
        px[i] = (rnd() & 0xffffffu) | 0xff000000u;
}

/* premultiplied: every colour at most alpha; some pixels fully clear, some opaque */
static void random_overlay(uint32_t *px, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t k = rnd() % 4, a = k == 0 ? 0 : k == 1 ? 255 : rnd() % 256, w = a << 24;
        for (int c = 0; c < 3; c++)
            w |= (a ? rnd() % (a + 1) : 0) << (8 * c);
        px[i] = w;
    }
}

/* lavapipe keeps a small allocation in its globals; the loader unloads the
 * driver at each vkDestroyInstance, and LeakSanitizer (the ASan build) then
 * calls that allocation a leak, once per presenter. The driver named by
 * VK_ICD_FILENAMES (ctest sets it) is held loaded for the whole test; every
 * presenter is still destroyed, so leaks of ours still show. */
static void keep_driver_loaded(void)
{
    const char *icd = getenv("VK_ICD_FILENAMES");
    FILE *f = icd ? fopen(icd, "r") : NULL;
    char json[4096] = "", lib[1024];
    if (!f)
        return;
    size_t n = fread(json, 1, sizeof(json) - 1, f);
    fclose(f);
    json[n] = 0;
    const char *k = strstr(json, "\"library_path\"");
    if (k && sscanf(k, "\"library_path\" : \"%1023[^\"]\"", lib) == 1)
        dlopen(lib, RTLD_NOW | RTLD_NODELETE);
}

typedef struct layers {
    const uint32_t *frame;
    uint32_t fw, fh;
    const uint32_t *ov;
    uint32_t ow, oh, ox, oy;
} layers;

static uint32_t ch(uint32_t w, int c) { return (w >> (8 * c)) & 255u; }

/* source position in 16.16 of target pixel i of a span of n target pixels
 * showing `src` source pixels: pixel centres map to pixel centres, clamped */
static uint32_t src_pos(uint32_t i, uint32_t n, uint32_t src)
{
    uint32_t step = (uint32_t)(((uint64_t)src << 16) / n);
    int64_t s = (int64_t)i * step + step / 2 - 32768;
    int64_t hi = (int64_t)(src - 1) << 16;
    return (uint32_t)(s < 0 ? 0 : s > hi ? hi : s);
}

static void reference(const layers *l, uint32_t W, uint32_t H, uint32_t *out)
{
    uint32_t dw = 0, dh = 0, dx = 0, dy = 0;
    if (l->frame) { /* the largest rectangle of the frame's aspect, rounded, centred */
        if ((uint64_t)W * l->fh <= (uint64_t)H * l->fw)
            dw = W, dh = (uint32_t)(((uint64_t)l->fh * W * 2 + l->fw) / ((uint64_t)l->fw * 2));
        else
            dh = H, dw = (uint32_t)(((uint64_t)l->fw * H * 2 + l->fh) / ((uint64_t)l->fh * 2));
        dw = dw ? dw : 1;
        dh = dh ? dh : 1;
        dx = (W - dw) / 2;
        dy = (H - dh) / 2;
    }
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            uint32_t v[3] = {0, 0, 0};
            if (l->frame && x >= dx && x < dx + dw && y >= dy && y < dy + dh) {
                uint32_t sx = src_pos(x - dx, dw, l->fw), sy = src_pos(y - dy, dh, l->fh);
                uint32_t x0 = sx >> 16, y0 = sy >> 16, fx = (sx >> 8) & 255, fy = (sy >> 8) & 255;
                uint32_t x1 = x0 + 1 < l->fw ? x0 + 1 : x0, y1 = y0 + 1 < l->fh ? y0 + 1 : y0;
                for (int c = 0; c < 3; c++) {
                    uint32_t top = ch(l->frame[y0 * l->fw + x0], c) * (256 - fx) + ch(l->frame[y0 * l->fw + x1], c) * fx;
                    uint32_t bot = ch(l->frame[y1 * l->fw + x0], c) * (256 - fx) + ch(l->frame[y1 * l->fw + x1], c) * fx;
                    v[c] = (top * (256 - fy) + bot * fy + 32768) >> 16;
                }
            }
            if (l->ov && x >= l->ox && x < l->ox + l->ow && y >= l->oy && y < l->oy + l->oh) {
                uint32_t o = l->ov[(y - l->oy) * l->ow + (x - l->ox)], a = o >> 24;
                for (int c = 0; c < 3; c++) {
                    uint32_t r = ch(o, c) + (v[c] * (255 - a) + 127) / 255;
                    v[c] = r > 255 ? 255 : r;
                }
            }
            out[y * W + x] = v[0] | v[1] << 8 | v[2] << 16 | 0xff000000u;
        }
}

/* composes on the GPU and compares: the number of differing pixels */
static int compare(rv_present *p, const layers *l, uint32_t W, uint32_t H, const char *what)
{
    static uint32_t got[64 * 64], want[64 * 64];
    rv_error err = {0};
    uint32_t w = 0, h = 0;
    if (rv_present_draw(p, &err) || rv_present_read(p, got, &w, &h, 64 * 64, &err)) {
        fprintf(stderr, "%s: %s\n", what, err.msg);
        return -1;
    }
    if (w != W || h != H) {
        fprintf(stderr, "%s: target %ux%u, expected %ux%u\n", what, w, h, W, H);
        return -1;
    }
    reference(l, W, H, want);
    int bad = 0, maxd = 0;
    for (uint32_t i = 0; i < W * H; i++)
        if (got[i] != want[i]) {
            if (bad++ < 3)
                fprintf(stderr, "%s: pixel (%u, %u): GPU %08x, reference %08x\n", what, i % W, i / W, got[i], want[i]);
            for (int c = 0; c < 4; c++) {
                int d = abs((int)ch(got[i], c) - (int)ch(want[i], c));
                maxd = d > maxd ? d : maxd;
            }
        }
    printf("%-44s %ux%u  differing pixels %d  max diff %d  %s\n", what, W, H, bad, maxd, bad ? "NOT OK" : "OK");
    return bad;
}

static rv_present *offscreen(uint32_t W, uint32_t H)
{
    const char *val = getenv("RV_VALIDATION");
    rv_present_desc d = {.width = W, .height = H, .validation = val && strcmp(val, "1") == 0};
    rv_present *p = NULL;
    rv_error err = {0};
    if (rv_present_create(&p, &d, &err)) {
        fprintf(stderr, "rv_present_create (offscreen %ux%u): %s\n", W, H, err.msg);
        return NULL;
    }
    return p;
}

int main(void)
{
    static uint32_t frame[40 * 24], frame2[5 * 3], ov[13 * 7], ov2[30 * 4];
    random_frame(frame, 40 * 24);
    random_frame(frame2, 5 * 3);
    random_overlay(ov, 13 * 7);
    random_overlay(ov2, 30 * 4);
    rv_error err = {0};
    keep_driver_loaded();

    /* upscale 5x3 -> 17x11 (bars above and below), an overlay inside */
    rv_present *p = offscreen(17, 11);
    CHECK(p != NULL, "no offscreen presenter on this device");
    if (!p)
        return rv_test_finish("test_present");
    CHECK(!rv_present_bgra(p), "the offscreen target is R, G, B, A");
    layers l = {.frame = frame2, .fw = 5, .fh = 3, .ov = ov, .ow = 13, .oh = 7, .ox = 2, .oy = 3};
    CHECK(rv_present_set_frame(p, frame2, 5, 3, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_present_set_overlay(p, ov, 13, 7, 2, 3, &err) == RV_OK, "%s", err.msg);
    CHECK(compare(p, &l, 17, 11, "upscale 5x3 -> 17x11, overlay 13x7 at 2,3") == 0, "composite differs");
    /* drawn again: nothing is uploaded twice, the picture is the same */
    CHECK(compare(p, &l, 17, 11, "the same layers again") == 0, "composite differs");
    rv_present_stats st = rv_present_get_stats(p);
    CHECK(st.draws == 2 && st.composites == 1 && st.frame_uploads == 1 && st.overlay_uploads == 1,
          "draws %llu, composites %llu, frame uploads %llu, overlay uploads %llu", (unsigned long long)st.draws,
          (unsigned long long)st.composites, (unsigned long long)st.frame_uploads,
          (unsigned long long)st.overlay_uploads);
    /* two rows of the overlay change: only they go, the rest is kept */
    for (int i = 2 * 13; i < 4 * 13; i++)
        ov[i] = ov[i] >> 1 & 0x7f7f7f7fu; /* still premultiplied */
    CHECK(rv_present_update_overlay(p, ov + 2 * 13, 2, 2, &err) == RV_OK, "%s", err.msg);
    CHECK(compare(p, &l, 17, 11, "overlay rows 2-3 updated") == 0, "composite differs");
    rv_present_stats st2 = rv_present_get_stats(p);
    CHECK(st2.overlay_bytes - st.overlay_bytes == 2 * 13 * 4, "%llu overlay bytes uploaded for two rows",
          (unsigned long long)(st2.overlay_bytes - st.overlay_bytes));
    CHECK(rv_present_update_overlay(p, ov, 6, 2, &err) == RV_ERR_INVALID, "rows past the overlay accepted");
    /* a new overlay partly outside the target, the frame kept */
    l.ov = ov2, l.ow = 30, l.oh = 4, l.ox = 4, l.oy = 9;
    CHECK(rv_present_set_overlay(p, ov2, 30, 4, 4, 9, &err) == RV_OK, "%s", err.msg);
    CHECK(compare(p, &l, 17, 11, "overlay 30x4 at 4,9, past the edges") == 0, "composite differs");
    st = rv_present_get_stats(p);
    CHECK(st.frame_uploads == 1 && st.overlay_uploads == 3, "frame uploads %llu, overlay uploads %llu",
          (unsigned long long)st.frame_uploads, (unsigned long long)st.overlay_uploads);
    /* no overlay; then no frame either: black */
    l.ov = NULL;
    CHECK(rv_present_set_overlay(p, NULL, 0, 0, 0, 0, &err) == RV_OK, "%s", err.msg);
    CHECK(compare(p, &l, 17, 11, "frame only") == 0, "composite differs");
    l.frame = NULL;
    CHECK(rv_present_set_frame(p, NULL, 0, 0, &err) == RV_OK, "%s", err.msg);
    CHECK(compare(p, &l, 17, 11, "nothing (black)") == 0, "composite differs");
    st = rv_present_get_stats(p);
    CHECK(st.validation_messages == 0, "%llu validation messages", (unsigned long long)st.validation_messages);
    rv_present_destroy(p);

    /* downscale 40x24 -> 9x16 (bars above and below), the frame buffer grows */
    p = offscreen(9, 16);
    CHECK(p != NULL, "no offscreen presenter");
    if (p) {
        layers m = {.frame = frame, .fw = 40, .fh = 24, .ov = ov, .ow = 13, .oh = 7, .ox = 0, .oy = 0};
        rv_present_set_frame(p, frame2, 5, 3, &err); /* replaced before the draw: only the last counts */
        CHECK(rv_present_set_frame(p, frame, 40, 24, &err) == RV_OK, "%s", err.msg);
        CHECK(rv_present_set_overlay(p, ov, 13, 7, 0, 0, &err) == RV_OK, "%s", err.msg);
        CHECK(compare(p, &m, 9, 16, "downscale 40x24 -> 9x16, overlay at 0,0") == 0, "composite differs");
        st = rv_present_get_stats(p);
        CHECK(st.validation_messages == 0, "%llu validation messages", (unsigned long long)st.validation_messages);
        rv_present_destroy(p);
    }
    /* a tall frame in a wide target: bars left and right */
    p = offscreen(64, 20);
    CHECK(p != NULL, "no offscreen presenter");
    if (p) {
        layers m = {.frame = frame2, .fw = 3, .fh = 5};
        CHECK(rv_present_set_frame(p, frame2, 3, 5, &err) == RV_OK, "%s", err.msg);
        CHECK(compare(p, &m, 64, 20, "pillarbox 3x5 -> 64x20") == 0, "composite differs");
        rv_present_destroy(p);
    }
    /* figures, not assertions: one composite at a window's size, with and
     * without the overlay going to the GPU again */
    p = offscreen(1024, 768);
    if (p) {
        static uint32_t big[256 * 256], band[1024 * 160];
        random_frame(big, 256 * 256);
        random_overlay(band, 1024 * 160);
        rv_present_set_frame(p, big, 256, 256, &err);
        rv_present_set_overlay(p, band, 1024, 160, 0, 608, &err);
        rv_present_draw(p, &err); /* the uploads, the pipeline warmed */
        double ms[2];
        for (int k = 0; k < 2; k++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int i = 0; i < 10; i++) {
                rv_present_set_overlay(p, band, 1024, 160, 0, 608, &err); /* a composite each time */
                if (k) /* and the frame too */
                    rv_present_set_frame(p, big, 256, 256, &err);
                rv_present_draw(p, &err);
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            ms[k] = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / 10;
        }
        printf("figure: composite 256x256 frame + 1024x160 overlay -> 1024x768 on %s: %.2f ms a draw with "
               "the overlay uploaded again, %.2f ms with the frame too\n",
               rv_present_device(p), ms[0], ms[1]);
        rv_present_destroy(p);
    }
    rv_present_destroy(NULL);
    return rv_test_finish("test_present");
}
