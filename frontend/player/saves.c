/* What the player writes: save slots (versioned JSON in the user's data
 * folder; Shift+digit picks the slot), screenshots (PNG with parameters
 * and provenance) and MP4 recordings. Not the story's own save format
 * (rv_story_save) nor the media writers (runtime/media). */
#include "player_impl.h"

/* ---------------------------------------------------------------- files */

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static void data_dir(const player *p, char *out, size_t cap)
{
    if (p->o->data_dir) {
        snprintf(out, cap, "%s", p->o->data_dir);
        return;
    }
    const char *x = getenv("XDG_DATA_HOME");
    if (x && *x)
        snprintf(out, cap, "%s/reverie", x);
    else
        snprintf(out, cap, "%s/.local/share/reverie", getenv("HOME") ? getenv("HOME") : ".");
}

static void stamp(char *out, size_t cap, int n)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y%m%d-%H%M%S", &tm);
    snprintf(out, cap, "%s-%d", b, n);
}

void pl_save_slot(player *p, int slot)
{
    char dir[4096], path[4200], tmp[4300];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    rv_error err = {0};
    char *json = NULL;
    SDL_LockMutex(p->sh.mu);
    rv_status rc = rv_story_save(p->sh.st, &json, &err);
    uint64_t digest = rv_story_state_digest(p->sh.st);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", SAVE_FORMAT);
    char abs[4096];
    cJSON_AddStringToObject(o, "story", realpath(p->story_path, abs) ? abs : p->story_path);
    char seed[32];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)p->sh.seed_offset);
    cJSON_AddStringToObject(o, "seed_offset", seed);
    cJSON_AddNumberToObject(o, "strength_delta", p->sh.strength_delta);
    cJSON_AddNumberToObject(o, "steps_delta", p->sh.steps_delta);
    SDL_UnlockMutex(p->sh.mu);
    if (rc) {
        cJSON_Delete(o);
        pl_toast(p, 5, "save failed: %s", err.msg);
        fprintf(stderr, "reverie play: save: %s\n", err.msg);
        return;
    }
    cJSON *state = cJSON_Parse(json);
    free(json);
    cJSON_AddItemToObject(o, "state", state ? state : cJSON_CreateNull());
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    FILE *f = NULL;
    bool ok = text && mkdirs(dir) == 0 && (f = fopen(tmp, "wb")) != NULL;
    if (ok)
        ok = fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    free(text);
    if (!ok) {
        pl_toast(p, 5, "save failed: %s: %s", path, strerror(errno));
        fprintf(stderr, "reverie play: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return;
    }
    pl_toast(p, 3, "saved to slot %d", slot);
    printf("play: saved slot %d to %s (state %016llx)\n", slot, path, (unsigned long long)digest);
    fflush(stdout);
}

/* Shift+digit: the slot F5 and F9 use from now on; says what it holds. */
void pl_select_slot(player *p, int slot)
{
    char dir[4096], path[4200];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    p->slot = slot;
    struct stat sb;
    char when[64] = "empty";
    if (stat(path, &sb) == 0) {
        struct tm tm;
        localtime_r(&sb.st_mtime, &tm);
        strftime(when, sizeof(when), "saved %Y-%m-%d %H:%M:%S", &tm);
    }
    pl_toast(p, 3, "slot %d (%s): F5 saves, F9 loads", slot, when);
    printf("play: slot %d selected (%s)\n", slot, strcmp(when, "empty") == 0 ? "empty" : "saved");
    fflush(stdout);
}

void pl_load_slot(player *p, int slot)
{
    char dir[4096], path[4200];
    data_dir(p, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/slot-%d.json", dir, slot);
    FILE *f = fopen(path, "rb");
    if (!f) {
        pl_toast(p, 4, "slot %d is empty (%s)", slot, path);
        fprintf(stderr, "reverie play: cannot read %s: %s\n", path, strerror(errno));
        return;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (64l << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    cJSON *o = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    const cJSON *story = cJSON_GetObjectItemCaseSensitive(o, "story");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (!o || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, SAVE_FORMAT) != 0 || !cJSON_IsObject(state)) {
        pl_toast(p, 5, "%s is not a %s file", path, SAVE_FORMAT);
        fprintf(stderr, "reverie play: %s: not a %s file\n", path, SAVE_FORMAT);
        cJSON_Delete(o);
        return;
    }
    char abs[4096];
    if (cJSON_IsString(story) && (!realpath(p->story_path, abs) || strcmp(abs, story->valuestring) != 0)) {
        if (!pl_open_story(p, story->valuestring, NULL)) {
            cJSON_Delete(o);
            return;
        }
    }
    char *sj = cJSON_PrintUnformatted(state);
    rv_error err = {0};
    SDL_LockMutex(p->sh.mu);
    rv_status rc = sj ? rv_story_restore(p->sh.st, sj, &err) : RV_ERR_HOST_MEMORY;
    uint64_t digest = rv_story_state_digest(p->sh.st);
    if (!rc) {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "seed_offset");
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "strength_delta");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "steps_delta");
        if (cJSON_IsString(so))
            p->sh.seed_offset = strtoull(so->valuestring, NULL, 10);
        if (cJSON_IsNumber(sd) && fabs(sd->valuedouble) <= 1)
            p->sh.strength_delta = (float)sd->valuedouble;
        if (cJSON_IsNumber(st) && fabs(st->valuedouble) <= 8)
            p->sh.steps_delta = (int)st->valuedouble;
        p->sh.epoch++;
    }
    SDL_UnlockMutex(p->sh.mu);
    free(sj);
    cJSON_Delete(o);
    if (rc) {
        pl_toast(p, 5, "load failed: %s", err.msg);
        fprintf(stderr, "reverie play: %s: %s\n", path, err.msg);
        return;
    }
    pl_replay_free(&p->replay); /* a loaded state ends a replay */
    pl_toast(p, 3, "loaded slot %d", slot);
    printf("play: loaded slot %d from %s (state %016llx)\n", slot, path, (unsigned long long)digest);
    fflush(stdout);
}

static void media_params(player *p, rv_media_params *m, char *extra, size_t cap)
{
    const char *model = p->o->model_dir;
    const char *slash = strrchr(model, '/');
    while (slash && slash[1] == 0 && slash > model) { /* "dir/" */
        const char *q = slash - 1;
        while (q > model && *q != '/')
            q--;
        slash = *q == '/' ? q : NULL;
        break;
    }
    rv_story_view v;
    pl_get_view(p, &v);
    snprintf(extra, cap, "Scene: %s, Frame: %llu", v.scene, (unsigned long long)p->res.index);
    *m = (rv_media_params){.prompt = p->prompt, .negative = p->negative, .steps = p->desc.steps,
                           .seed = p->desc.seed, .has_seed = true, .width = p->fw, .height = p->fh,
                           .model = slash ? slash + 1 : model, .scheduler = p->sh.scheduler,
                           .strength = p->desc.warp_only ? 0 : p->desc.strength, .extra = extra};
}

void pl_screenshot(player *p)
{
    if (!p->have_frame)
        return;
    const char *dir = p->o->out_dir ? p->o->out_dir : ".";
    char name[64], path[4200], extra[600];
    stamp(name, sizeof(name), ++p->shot_n);
    snprintf(path, sizeof(path), "%s/reverie-%s.png", dir, name);
    rv_media_params m;
    media_params(p, &m, extra, sizeof(extra));
    rv_error err = {0};
    if (rv_png_write_media(path, p->shown, p->fw, p->fh, &m, NULL, 0, &err)) {
        pl_toast(p, 5, "screenshot failed: %s", err.msg);
        fprintf(stderr, "reverie play: screenshot: %s\n", err.msg);
        return;
    }
    pl_toast(p, 3, "screenshot: %s", path);
    printf("play: screenshot %s\n", path);
    fflush(stdout);
}

void pl_record_toggle(player *p)
{
    rv_error err = {0};
    if (p->rec) {
        int64_t n = rv_media_out_frames(p->rec);
        if (n > 0 && rv_media_out_finish(p->rec, &err) == RV_OK) {
            pl_toast(p, 4, "recorded %lld frames: %s", (long long)n, p->rec_path);
            printf("play: recorded %lld frames to %s\n", (long long)n, p->rec_path);
        } else {
            pl_toast(p, 4, "recording not written (%s)", n > 0 ? err.msg : "no frames");
            fprintf(stderr, "reverie play: recording %s not written: %s\n", p->rec_path,
                    n > 0 ? err.msg : "no frames were made while recording");
            rv_media_out_destroy(p->rec);
        }
        fflush(stdout);
        p->rec = NULL;
        return;
    }
    if (!p->have_frame)
        return;
    const char *dir = p->o->out_dir ? p->o->out_dir : ".";
    char name[64], extra[600];
    stamp(name, sizeof(name), ++p->shot_n);
    snprintf(p->rec_path, sizeof(p->rec_path), "%s/reverie-%s.mp4", dir, name);
    rv_media_params *m = &p->rec_meta;
    media_params(p, m, extra, sizeof(extra));
    m->extra = NULL;
    snprintf(p->rec_prompt, sizeof(p->rec_prompt), "%s", p->prompt);
    snprintf(p->rec_negative, sizeof(p->rec_negative), "%s", p->negative);
    m->prompt = p->rec_prompt;
    m->negative = p->rec_negative;
    int fps = (int)lround(p->gen_fps);
    fps = fps < 1 ? 1 : fps > 30 ? 30 : fps;
    rv_media_out_desc d = {.path = p->rec_path, .width = p->fw, .height = p->fh, .fps_num = (uint32_t)fps,
                           .fps_den = 1, .meta = m};
    if (rv_media_out_create(&p->rec, &d, &err)) {
        p->rec = NULL;
        pl_toast(p, 5, "recording failed: %s", err.msg);
        fprintf(stderr, "reverie play: recording: %s\n", err.msg);
        return;
    }
    pl_toast(p, 3, "recording to %s (F10 stops)", p->rec_path);
    printf("play: recording %s at %d fps\n", p->rec_path, fps);
    fflush(stdout);
}

