/* `reverie inspect FILE.png|FILE.mp4|FILE.webm`: what a picture or video says
 * about itself (size, frames, rate, codec, the generation parameters, the
 * XMP digital source type, other tags), through the media API only.
 * Model folders are cmd_inspect.c's; this file only answers for files. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "rv_media.h"

static bool media_name(const char *path)
{
    static const char *const ext[] = {".png", ".mp4", ".webm", ".mov", ".mkv", ".m4v"};
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return false;
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return true;
    return false;
}

/* multi-line text, each line after the first indented under the label */
static void print_block(const char *label, const char *text)
{
    printf("  %s: ", label);
    for (const char *p = text; *p; p++) {
        putchar(*p);
        if (*p == '\n' && p[1])
            printf("    ");
    }
    if (!*text || text[strlen(text) - 1] != '\n')
        putchar('\n');
}

int rv_cmd_inspect_media(const char *path)
{
    struct stat st;
    if (!media_name(path) || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return -1; /* a folder, even one named x.png, is a model folder */
    rv_media_info info;
    rv_error err = {0};
    if (rv_media_probe(&info, path, &err)) {
        fprintf(stderr, "reverie inspect: %s\n", err.msg);
        return 1;
    }
    if (info.fps > 0)
        printf("%s: %s, %s %ux%u, %lld frames at %g fps (%.2f s)\n", path, info.container, info.codec, info.width,
               info.height, (long long)info.frames, info.fps, info.seconds);
    else
        printf("%s: %s, %ux%u\n", path, info.container, info.width, info.height);
    if (info.parameters)
        print_block("parameters", info.parameters);
    else
        printf("  parameters: none\n");
    if (info.source_type[0])
        printf("  digital source type: %s%s\n", info.source_type,
               strcmp(info.source_type, RV_MEDIA_DIGITAL_SOURCE_TYPE) == 0 ? " (made by a generative model)" : "");
    else
        printf("  digital source type: none (no XMP provenance)\n");
    printf("  XMP: %s\n", info.xmp ? "yes" : "no");
    /* the muxers' own bookkeeping says nothing about how the file was made */
    static const char *const skip[] = {"major_brand", "minor_version", "compatible_brands", "language",
                                       "handler_name", "vendor_id", "duration", "digital_source_type"};
    for (int i = 0; i < info.ntags; i++) {
        bool hide = false;
        for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
            hide |= strcasecmp(info.tags[i].key, skip[k]) == 0;
        if (hide)
            continue;
        char label[96];
        snprintf(label, sizeof(label), "%s", info.tags[i].key);
        print_block(label, info.tags[i].value);
    }
    rv_media_info_free(&info);
    return 0;
}
