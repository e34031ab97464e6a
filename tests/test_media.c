/* Media layer without video: the parameters text and XMP, PNG write with
 * metadata and read back (any PNG kind), the PNG reader's errors, and LAB
 * colour matching. Video has its own test (test_media_video.c). */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rv_media.h"
#include "rv_test.h"
#include "util/rv_png.h"

static char tmpdir[256];

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}

static void rm_rf_files(const char *dir)
{
    DIR *d = opendir(dir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
}

static void parameters_text(void)
{
    rv_media_params p = {.prompt = "a red fox, in snow", .negative = "blurry", .steps = 4, .seed = 42,
                         .has_seed = true, .width = 256, .height = 192, .model = "reverie-tiny",
                         .model_hash = "0123abcd", .scheduler = "euler", .guidance = 1.5f, .strength = 0.6f,
                         .software = "Reverie 0.1.0 (test)", .extra = "Frames: 10"};
    char *t = rv_media_parameters_text(&p);
    const char *want = "a red fox, in snow\nNegative prompt: blurry\nSteps: 4, Sampler: euler, CFG scale: 1.5, "
                       "Seed: 42, Size: 256x192, Model hash: 0123abcd, Model: reverie-tiny, Denoising strength: "
                       "0.6, Version: Reverie 0.1.0 (test), Frames: 10";
    CHECK(t && strcmp(t, want) == 0, "parameters:\n%s\nwant:\n%s", t ? t : "(null)", want);
    free(t);
    /* quoting as A1111 does; seed 0 is written when has_seed; no negative line when empty */
    rv_media_params q = {.prompt = "x", .has_seed = true, .model = "my, \"model\""};
    t = rv_media_parameters_text(&q);
    char want2[128];
    snprintf(want2, sizeof(want2), "x\nSeed: 0, Model: \"my, \\\"model\\\"\", Version: Reverie %s",
             rv_media_version());
    CHECK(t && strcmp(t, want2) == 0, "quoted: %s", t ? t : "(null)");
    free(t);

    rv_media_params x = {.prompt = "fish & <chips> \"q\"", .steps = 2};
    char *xmp = rv_media_xmp(&x);
    CHECK(xmp && strstr(xmp, "Iptc4xmpExt:DigitalSourceType=\"" RV_MEDIA_DIGITAL_SOURCE_TYPE "\""), "xmp: %s",
          xmp ? xmp : "(null)");
    CHECK(xmp && strstr(xmp, "fish &amp; &lt;chips&gt; &quot;q&quot;"), "xmp escapes the prompt");
    CHECK(xmp && !strstr(xmp, "<chips>"), "no raw markup from the prompt");
    free(xmp);
    /* the model hash helper against sha256sum's answer for "abc" */
    char hex[65], path[512];
    snprintf(path, sizeof(path), "%s/abc.bin", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    rv_error err = {0};
    CHECK(rv_media_sha256_file(path, hex, &err) == RV_OK &&
              !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "sha256: %s %s", hex, err.msg);
    unlink(path);
    CHECK(rv_media_sha256_file(path, hex, &err) == RV_ERR_IO && strstr(err.msg, path), "sha256 missing: %s",
          err.msg);
    xmp = rv_media_xmp(NULL);
    CHECK(xmp && strstr(xmp, "trainedAlgorithmicMedia") && !strstr(xmp, "dc:description"), "xmp without params");
    free(xmp);
}

static void pattern(uint32_t *px, uint32_t w, uint32_t h, uint32_t seed)
{
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint32_t r = (x * 255 / (w - 1) + seed) & 255, g = (y * 255 / (h - 1)) & 255,
                     b = ((x ^ y) * 7 + seed * 3) & 255, a = 255 - ((x + y) & 15);
            px[y * w + x] = r | g << 8 | b << 16 | a << 24;
        }
}

static void png_round_trip(void)
{
    enum { W = 37, H = 21 };
    uint32_t px[W * H];
    pattern(px, W, H, 5);
    char path[512];
    snprintf(path, sizeof(path), "%s/out.png", tmpdir);
    rv_media_params p = {.prompt = "caf\xc3\xa9 at night", .steps = 2, .seed = 9, .width = W, .height = H,
                         .model = "reverie-tiny"};
    rv_error err = {0};
    rv_media_text extra[] = {{"seed", "9"}, {"parameters", "a duplicate, skipped"}, {"Comment", "\xe2\x9c\x93 utf-8"}};
    rv_status s = rv_png_write_media(path, px, W, H, &p, extra, 3, &err);
    CHECK(s == RV_OK, "write: %s", err.msg);
    CHECK(count_files(tmpdir) == 1, "only the PNG in the folder (%d files)", count_files(tmpdir));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644 (%o)", (unsigned)st.st_mode & 0777);

    rv_image img;
    s = rv_png_read(&img, path, &(rv_png_read_desc){.width = W, .height = H}, &err);
    CHECK(s == RV_OK && img.width == W && img.height == H, "read: %s", err.msg);
    CHECK(s == RV_OK && memcmp(img.rgba, px, sizeof(px)) == 0, "pixels round-trip exactly");
    rv_image_free(&img);

    rv_media_info info;
    s = rv_media_probe(&info, path, &err);
    CHECK(s == RV_OK, "probe: %s", err.msg);
    CHECK(!strcmp(info.container, "png") && info.width == W && info.height == H && info.frames == 1, "png info");
    CHECK(info.parameters && strstr(info.parameters, "caf\xc3\xa9 at night\nSteps: 2"), "parameters: %s",
          info.parameters ? info.parameters : "(null)");
    CHECK(!strcmp(info.source_type, RV_MEDIA_DIGITAL_SOURCE_TYPE), "source type: %s", info.source_type);
    bool software = false, seed = false, comment = false;
    for (int i = 0; i < info.ntags; i++) {
        software |= !strcmp(info.tags[i].key, "Software") && !strncmp(info.tags[i].value, "Reverie ", 8);
        seed |= !strcmp(info.tags[i].key, "seed") && !strcmp(info.tags[i].value, "9");
        comment |= !strcmp(info.tags[i].key, "Comment") && !strcmp(info.tags[i].value, "\xe2\x9c\x93 utf-8");
        CHECK(strcmp(info.tags[i].key, "parameters"), "one parameters chunk");
    }
    CHECK(software && seed && comment, "Software %d, extra chunks %d %d", software, seed, comment);
    rv_media_info_free(&info);

    /* the XMP is an iTXt chunk even though it is ASCII (the XMP spec's place) */
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    bool itxt = false, text = false;
    for (size_t i = 0; i + 21 < n; i++) {
        itxt |= !memcmp(buf + i, "iTXtXML:com.adobe.xmp", 21);
        text |= !memcmp(buf + i, "iTXtparameters", 14); /* the prompt is UTF-8 here */
    }
    CHECK(itxt && text, "iTXt XMP %d, iTXt parameters %d", itxt, text);
    unlink(path);
}

/* a PNG in a format our writer never makes, through libpng directly */
static void write_raw_png(const char *path, uint32_t w, uint32_t h, int color, int depth, const uint8_t *data,
                          size_t stride)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(png, data + y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void png_kinds_and_errors(void)
{
    char path[512];
    rv_error err = {0};
    rv_image img;
    /* 8-bit grey */
    uint8_t grey[4 * 3];
    for (int i = 0; i < 12; i++)
        grey[i] = (uint8_t)(i * 20);
    snprintf(path, sizeof(path), "%s/grey.png", tmpdir);
    write_raw_png(path, 4, 3, PNG_COLOR_TYPE_GRAY, 8, grey, 4);
    rv_status s = rv_png_read(&img, path, NULL, &err);
    CHECK(s == RV_OK && img.rgba[5] == (100u | 100u << 8 | 100u << 16 | 0xffu << 24), "grey to RGBA: %s %08x",
          err.msg, s == RV_OK ? img.rgba[5] : 0);
    rv_image_free(&img);
    /* 16-bit RGB: the high bytes */
    uint8_t rgb16[2 * 2 * 6];
    for (int i = 0; i < 24; i++)
        rgb16[i] = (uint8_t)(i * 10);
    snprintf(path, sizeof(path), "%s/rgb16.png", tmpdir);
    write_raw_png(path, 2, 2, PNG_COLOR_TYPE_RGB, 16, rgb16, 12);
    s = rv_png_read(&img, path, NULL, &err);
    CHECK(s == RV_OK && img.rgba[1] == (60u | 80u << 8 | 100u << 16 | 0xffu << 24), "rgb16 to RGBA: %s %08x",
          err.msg, s == RV_OK ? img.rgba[1] : 0);
    rv_image_free(&img);

    /* errors name the file and say what is wrong */
    rv_error_clear(&err);
    snprintf(path, sizeof(path), "%s/missing.png", tmpdir);
    s = rv_png_read(&img, path, NULL, &err);
    CHECK(s == RV_ERR_IO && strstr(err.msg, path) && strstr(err.msg, "No such file"), "missing: %s", err.msg);
    rv_error_clear(&err);
    snprintf(path, sizeof(path), "%s/text.png", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("this is not a picture\n", f);
    fclose(f);
    s = rv_png_read(&img, path, NULL, &err);
    CHECK(s == RV_ERR_FORMAT && strstr(err.msg, path) && strstr(err.msg, "not a PNG"), "not png: %s", err.msg);
    rv_error_clear(&err);
    s = rv_png_read(&img, tmpdir, NULL, &err);
    CHECK(s == RV_ERR_IO && strstr(err.msg, "not a regular file"), "folder: %s", err.msg);

    uint32_t px[16 * 8];
    pattern(px, 16, 8, 1);
    snprintf(path, sizeof(path), "%s/small.png", tmpdir);
    CHECK(rv_png_write(path, px, 16, 8, NULL, 0, &err) == RV_OK, "write small");
    rv_error_clear(&err);
    s = rv_png_read(&img, path, &(rv_png_read_desc){.width = 32, .height = 32}, &err);
    CHECK(s == RV_ERR_INVALID && strstr(err.msg, "is 16x8, but 32x32 is needed"), "wrong size: %s", err.msg);
    rv_error_clear(&err);
    s = rv_png_read(&img, path, &(rv_png_read_desc){.max_side = 8}, &err);
    CHECK(s == RV_ERR_INVALID && strstr(err.msg, "too large (the limit is 8 pixels a side)"), "too large: %s",
          err.msg);
    CHECK(img.rgba == NULL, "nothing allocated on error");
    /* truncated: the header is fine, the data stops */
    f = fopen(path, "rb");
    static unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    rv_error_clear(&err);
    s = rv_png_decode(&img, buf, n / 2, "half.png", NULL, &err);
    CHECK(s == RV_ERR_FORMAT && strstr(err.msg, "half.png: damaged PNG"), "truncated: %s", err.msg);
    /* a flipped byte in the image data: the CRC catches it */
    buf[n - 20] ^= 0x55;
    rv_error_clear(&err);
    s = rv_png_decode(&img, buf, n, "flip.png", NULL, &err);
    CHECK(s == RV_ERR_FORMAT && strstr(err.msg, "flip.png: damaged PNG"), "corrupt: %s", err.msg);

    /* a chunk that claims 1 GiB in a 1 KiB file (fuzz_png's first find):
     * refused before libpng allocates it */
    rv_error_clear(&err);
    s = rv_png_read(&img, "fuzz/corpus/png/crash-oom-itxt-length.png", NULL, &err);
    CHECK(s == RV_ERR_FORMAT && strstr(err.msg, "chunk iTXt at byte 172 says 1073742646 bytes"), "huge chunk: %s",
          err.msg);

    /* writing where no file can be made: clear error, nothing left */
    rv_error_clear(&err);
    snprintf(path, sizeof(path), "%s/no/such/folder/out.png", tmpdir);
    s = rv_png_write_media(path, px, 16, 8, &(rv_media_params){.prompt = "p"}, NULL, 0, &err);
    CHECK(s == RV_ERR_IO && strstr(err.msg, path), "unwritable: %s", err.msg);
    rm_rf_files(tmpdir);
    CHECK(count_files(tmpdir) == 0, "clean");
}

static void lab_stats(const uint32_t *px, size_t n, double mean[3], double sd[3])
{
    /* CIELAB (D65) in double precision, written out here so the check does
     * not lean on color.c's own conversion */
    double s[3] = {0}, s2[3] = {0};
    for (size_t i = 0; i < n; i++) {
        double rgb[3];
        for (int c = 0; c < 3; c++) {
            double v = ((px[i] >> (8 * c)) & 255) / 255.0;
            rgb[c] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
        }
        double x = (0.4124564 * rgb[0] + 0.3575761 * rgb[1] + 0.1804375 * rgb[2]) / 0.95047;
        double y = 0.2126729 * rgb[0] + 0.7151522 * rgb[1] + 0.0721750 * rgb[2];
        double z = (0.0193339 * rgb[0] + 0.1191920 * rgb[1] + 0.9503041 * rgb[2]) / 1.08883;
        double d = 6.0 / 29.0, f[3], t[3] = {x, y, z};
        for (int c = 0; c < 3; c++)
            f[c] = t[c] > d * d * d ? cbrt(t[c]) : t[c] / (3 * d * d) + 4.0 / 29.0;
        double lab[3] = {116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])};
        for (int c = 0; c < 3; c++) {
            s[c] += lab[c];
            s2[c] += lab[c] * lab[c];
        }
    }
    for (int c = 0; c < 3; c++) {
        mean[c] = s[c] / (double)n;
        sd[c] = sqrt(fmax(0, s2[c] / (double)n - mean[c] * mean[c]));
    }
}

static void colour_match(void)
{
    enum { W = 96, H = 64 };
    static uint32_t ref[W * H], frame[W * H], orig[W * H];
    /* reference: a warm scene with a sky gradient and a dark block */
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            uint32_t r = 120 + x, g = 60 + y * 2, b = 40 + (x + y) / 3;
            if (x > 30 && x < 60 && y > 20 && y < 50)
                r /= 3, g /= 3, b /= 3;
            ref[y * W + x] = (r > 255 ? 255 : r) | g << 8 | b << 16 | 0xffu << 24;
        }
    rv_error err = {0};
    /* against itself: nothing moves by more than rounding */
    memcpy(frame, ref, sizeof(ref));
    CHECK(rv_color_match_lab(frame, W, H, ref, W, H, 1.0f, &err) == RV_OK, "self: %s", err.msg);
    int maxd = 0;
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 4; c++) {
            int d = abs((int)((frame[i] >> (8 * c)) & 255) - (int)((ref[i] >> (8 * c)) & 255));
            maxd = d > maxd ? d : maxd;
        }
    CHECK(maxd <= 1, "self-match moves a channel by %d levels", maxd);
    /* a drifted frame: cooler, darker, lower contrast, alpha varies */
    for (int i = 0; i < W * H; i++) {
        uint32_t p = ref[(i + 7 * W + 3) % (W * H)];
        uint32_t r = (p & 255) * 6 / 10 + 20, g = ((p >> 8) & 255) * 7 / 10 + 20, b = ((p >> 16) & 255) * 7 / 10 + 60;
        frame[i] = orig[i] = r | g << 8 | b << 16 | (uint32_t)(200 + i % 50) << 24;
    }
    double mr[3], sr[3], m0[3], s0[3], m1[3], s1[3];
    lab_stats(ref, W * H, mr, sr);
    lab_stats(frame, W * H, m0, s0);
    CHECK(rv_color_match_lab(frame, W, H, ref, W, H, 1.0f, &err) == RV_OK, "match: %s", err.msg);
    lab_stats(frame, W * H, m1, s1);
    const char *ch = "Lab";
    for (int c = 0; c < 3; c++) {
        printf("colour match %c: reference mean %.2f sd %.2f; drifted %.2f / %.2f; matched %.2f / %.2f\n", ch[c],
               mr[c], sr[c], m0[c], s0[c], m1[c], s1[c]);
        CHECK(fabs(m1[c] - mr[c]) < 1.0 && fabs(s1[c] - sr[c]) < 1.0, "channel %c mean/sd %.2f/%.2f vs %.2f/%.2f",
              ch[c], m1[c], s1[c], mr[c], sr[c]);
    }
    bool alpha = true;
    for (int i = 0; i < W * H; i++)
        alpha &= (frame[i] >> 24) == (orig[i] >> 24);
    CHECK(alpha, "alpha kept");
    /* half way, a reference of another size, and the bad inputs */
    memcpy(frame, orig, sizeof(orig));
    CHECK(rv_color_match_lab(frame, W, H, ref, W / 2, H, 0.5f, &err) == RV_OK, "half: %s", err.msg);
    lab_stats(frame, W * H, m1, s1);
    CHECK(m1[0] > fmin(m0[0], mr[0]) && m1[0] < fmax(m0[0], mr[0]), "amount 0.5 lands between (%.2f)", m1[0]);
    memcpy(frame, orig, sizeof(orig));
    CHECK(rv_color_match_lab(frame, W, H, ref, W, H, 0.0f, &err) == RV_OK && !memcmp(frame, orig, sizeof(orig)),
          "amount 0 is a no-op");
    rv_error_clear(&err);
    CHECK(rv_color_match_lab(frame, W, H, ref, 0, H, 1.0f, &err) == RV_ERR_INVALID, "bad size");
    rv_error_clear(&err);
    CHECK(rv_color_match_lab(frame, W, H, ref, W, H, 1.5f, &err) == RV_ERR_INVALID, "bad amount");
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rv_test_media_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    parameters_text();
    png_round_trip();
    png_kinds_and_errors();
    colour_match();
    rm_rf_files(tmpdir);
    rmdir(tmpdir);
    return rv_test_finish("test_media");
}
