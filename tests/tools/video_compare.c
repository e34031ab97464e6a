/* Test helper for cli_render.sh: decodes a video with libavformat /
 * libavcodec (through rv_media's reader) and compares every frame with a
 * PNG sequence of the same render: frame count, size, and PSNR per frame.
 * Prints one line per frame and a summary; exit 1 when the counts or sizes
 * differ or a frame's luma PSNR is under the limit (luma: the colour planes
 * of yuv420p are subsampled, so RGB PSNR also measures the subsampling of
 * noisy test pictures; it is printed too). Not a ctest of its own.
 * Usage: video_compare VIDEO PNG_PATTERN MIN_PSNR_DB */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rv_media.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: video_compare VIDEO PNG_PATTERN MIN_PSNR_DB\n");
        return 2;
    }
    double limit = atof(argv[3]), worst = INFINITY;
    rv_error err = {0};
    rv_video_reader *r = NULL;
    if (rv_video_reader_open(&r, argv[1], &err)) {
        fprintf(stderr, "video_compare: %s\n", err.msg);
        return 1;
    }
    uint32_t w, h;
    double fps;
    rv_video_reader_size(r, &w, &h, &fps);
    uint32_t *px = malloc((size_t)w * h * 4);
    int n = 0, bad = 0;
    for (;;) {
        bool got = false;
        if (rv_video_reader_next(r, px, &got, &err)) {
            fprintf(stderr, "video_compare: frame %d: %s\n", n, err.msg);
            bad = 1;
            break;
        }
        if (!got)
            break;
        char path[1024];
        snprintf(path, sizeof(path), argv[2], n);
        rv_image img = {0};
        rv_png_read_desc d = {.width = w, .height = h};
        if (rv_png_read(&img, path, &d, &err)) {
            fprintf(stderr, "video_compare: %s\n", err.msg);
            bad = 1;
            break;
        }
        double se = 0, sy = 0;
        for (size_t i = 0; i < (size_t)w * h; i++) {
            double ya = 0, yb = 0;
            static const double kw[3] = {0.299, 0.587, 0.114}; /* BT.601 luma */
            for (int c = 0; c < 3; c++) {
                double a = (double)((px[i] >> (8 * c)) & 0xff), b = (double)((img.rgba[i] >> (8 * c)) & 0xff);
                se += (a - b) * (a - b);
                ya += kw[c] * a;
                yb += kw[c] * b;
            }
            sy += (ya - yb) * (ya - yb);
        }
        double mse = se / (3.0 * w * h), psnr = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0;
        double msey = sy / ((double)w * h), psnr_y = msey > 0 ? 10 * log10(255.0 * 255.0 / msey) : 99.0;
        worst = psnr_y < worst ? psnr_y : worst;
        printf("frame %d: luma PSNR %.2f dB, RGB %.2f dB\n", n, psnr_y, psnr);
        rv_image_free(&img);
        n++;
    }
    char path[1024];
    snprintf(path, sizeof(path), argv[2], n);
    FILE *extra = fopen(path, "rb");
    if (extra) { /* the sequence has more frames than the video */
        fclose(extra);
        fprintf(stderr, "video_compare: %s exists: the video has fewer frames\n", path);
        bad = 1;
    }
    printf("video_compare: %d frames %ux%u at %.3f fps, worst luma PSNR %.2f dB (limit %.1f)\n", n, w, h, fps, worst,
           limit);
    free(px);
    rv_video_reader_close(r);
    return bad || n == 0 || worst < limit;
}
