/* The story engine: expressions and effects, scripted playthroughs that
 * reach every ending of the three examples, the scene schedule at time t
 * (keyframes, easing, transitions, seed drift, prompt weights, styles),
 * and that save/load, rollback, replay and hot reload give identical
 * states. No GPU. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_story.h"
#include "rv_test.h"

static rv_story *load_mem(const char *json)
{
    rv_story *s = NULL;
    rv_story_diags d = {0};
    rv_error err = {0};
    rv_story_load_mem(&s, "mem.json", json, strlen(json), &d, &err);
    CHECK(s != NULL, "load: %s", err.msg);
    rv_story_diags_free(&d);
    return s;
}

static rv_story *load_file(const char *path)
{
    rv_story *s = NULL;
    rv_error err = {0};
    CHECK(rv_story_load(&s, path, NULL, &err) == RV_OK, "%s: %s", path, err.msg);
    return s;
}

static void var_is(rv_story_state *st, const char *name, const char *want)
{
    char buf[300];
    CHECK(rv_story_get_var(st, name, buf, sizeof(buf)) && strcmp(buf, want) == 0,
          "%s = %s, want %s", name, buf, want);
}

static void expressions(void)
{
    const char *json =
        "{\"format\": \"reverie-story/1\", \"title\": \"expr\", \"seed\": 99,"
        " \"variables\": {\"a\": 5, \"b\": false, \"s\": \"x\", \"r1\": 0, \"r2\": 0, \"r3\": 0,"
        "   \"r4\": 0, \"r5\": 0, \"r6\": 0, \"r7\": 0, \"f\": false, \"g\": true, \"h\": false},"
        " \"scenes\": [{\"id\": \"start\", \"narration\": \"a={a} s={s} {if f: yes | no}{{}}\","
        "   \"on_enter\": [\"r1 = min(3, a, 7) + max(1, 2)\", \"r2 = clamp(a * 3, 0, 10)\","
        "     \"r3 = 7 % 3 + 10 / 4\", \"r4 = a / 0 + a % 0\", \"f = not b and (a > 2 or b)\","
        "     \"s = 'hello'; r5 = random(1, 6)\", \"r6 = turns + visited(start)\","
        "     \"r7 -= -2.5\", \"g = s == 'hello' and s != \\\"x\\\"\", \"h = b or a < 5 or a >= 6\"],"
        "   \"choices\": [{\"text\": \"end\", \"target\": \"end\"}]},"
        "  {\"id\": \"end\", \"ending\": true}]}";
    rv_story *s = load_mem(json);
    if (!s)
        return;
    rv_story_state *st = NULL;
    rv_error err = {0};
    CHECK(rv_story_state_create(&st, s, NULL, &err) == RV_OK, "%s", err.msg);
    var_is(st, "r1", "5");
    var_is(st, "r2", "10");
    var_is(st, "r3", "3.5");
    var_is(st, "r4", "0");
    var_is(st, "f", "true");
    var_is(st, "s", "hello");
    var_is(st, "r6", "1");
    var_is(st, "r7", "2.5");
    var_is(st, "g", "true");
    var_is(st, "h", "false");
    char r5[32];
    rv_story_get_var(st, "r5", r5, sizeof(r5));
    CHECK(atoi(r5) >= 1 && atoi(r5) <= 6, "random(1, 6) = %s", r5);
    rv_story_view v;
    rv_story_get_view(st, &v);
    CHECK(strcmp(v.narration, "a=5 s=hello yes{}") == 0, "narration \"%s\"", v.narration);
    /* the same seed draws the same numbers; the log records the seed */
    rv_story_state *st2 = NULL;
    rv_story_state_create(&st2, s, NULL, &err);
    CHECK(rv_story_state_digest(st) == rv_story_state_digest(st2), "same seed, same state");
    /* 20 seeds: random(1, 6) takes more than one value */
    int seen = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rv_story_state *t = NULL;
        rv_story_state_desc d = {.seed = seed};
        rv_story_state_create(&t, s, &d, &err);
        char b[32];
        rv_story_get_var(t, "r5", b, sizeof(b));
        seen |= 1 << atoi(b);
        rv_story_state_destroy(t);
    }
    CHECK(__builtin_popcount(seen) >= 3 && !(seen & 1) && !(seen & (1 << 7)), "random spread %x", seen);
    rv_story_state_destroy(st2);
    rv_story_state_destroy(st);
    rv_story_unload(s);
}

/* Plays choices (1-based, as a viewer types them); scenes that move on by
 * themselves are waited for. Returns the ending reached, or "". */
static const char *play(rv_story_state *st, const int *choices, int n, char *ending, size_t cap)
{
    rv_error err = {0};
    for (int i = 0;; ) {
        rv_story_view v;
        rv_story_get_view(st, &v);
        if (v.is_ending) {
            snprintf(ending, cap, "%s", v.ending);
            return ending;
        }
        if (v.n_choices == 0 || (i >= n && rv_story_time_to_next(st) >= 0)) {
            double t = rv_story_time_to_next(st);
            if (t < 0)
                break;
            rv_story_advance(st, t + 1e-6);
            continue;
        }
        if (i >= n)
            break;
        if (rv_story_choose(st, choices[i] - 1, &err)) {
            CHECK(0, "choice %d (#%d) in %s: %s", choices[i], i, v.scene, err.msg);
            break;
        }
        i++;
    }
    ending[0] = 0;
    return ending;
}

static void playthrough(const char *path, const int *choices, int n, const char *want)
{
    rv_story *s = load_file(path);
    if (!s)
        return;
    rv_story_state *st = NULL;
    rv_error err = {0};
    rv_story_state_create(&st, s, NULL, &err);
    char end[256];
    play(st, choices, n, end, sizeof(end));
    CHECK(strcmp(end, want) == 0, "%s: reached \"%s\", want \"%s\"", path, end, want);
    rv_story_state_destroy(st);
    rv_story_unload(s);
}

#define PLAY(path, want, ...) do { \
    static const int seq_[] = {__VA_ARGS__}; \
    playthrough(path, seq_, (int)(sizeof(seq_) / sizeof(seq_[0])), want); \
} while (0)

static void endings(void)
{
    const char *lh = "../scenes/lighthouse.json", *wc = "../scenes/water_cycle.json",
               *pg = "../scenes/playground.json";
    /* river, forest, take the oil (windmill, cliff path go by themselves),
     * climb to the lamp room, light it */
    PLAY(lh, "The light returns", 3, 1, 1, 1, 1);
    /* harbor, fisherman's house (map, courage 1), harbor, row out: lost */
    PLAY(lh, "Lost at sea", 2, 1, 1, 1);
    /* river, forest (courage 1), oil, wait out the storm (dawn), harbor,
     * house (courage 2), harbor, row out: the island */
    PLAY(lh, "The quiet island", 3, 1, 1, 2, 2, 1, 1, 1);
    /* all right: the expert; two right: explorer; one right: review loop */
    PLAY(wc, "Water cycle expert", 1, 1, 2, 1);
    PLAY(wc, "Water cycle explorer", 1, 1, 2, 2);
    PLAY(wc, "Water cycle explorer", 1, 2, 1, 2, 2, 1);
    PLAY(pg, "The end of the demo", 4);
    PLAY(pg, "The end of the demo", 1, 1, 1, 1, 1, 1, 1, 4);
}

static void schedule(void)
{
    rv_story *s = load_file("../scenes/lighthouse.json");
    if (!s)
        return;
    rv_story_state *st = NULL;
    rv_error err = {0};
    rv_story_state_create(&st, s, NULL, &err);
    rv_story_frame f;
    rv_story_get_frame_at(st, 3, &f);
    CHECK(strcmp(f.scene, "shore") == 0 && f.n_prompts == 1, "scene %s", f.scene);
    CHECK(strcmp(f.prompts[0].text,
                 "a white lighthouse on a cliff by the sea at night in a storm, watercolor painting") == 0,
          "prompt \"%s\"", f.prompts[0].text);
    CHECK(strcmp(f.negative, "city") == 0 && strcmp(f.style, "watercolor") == 0, "neg %s", f.negative);
    CHECK(fabsf(f.motion.zoom - 1.015f) < 1e-6f, "eased zoom %f", f.motion.zoom);
    CHECK(fabsf(f.strength - 0.6f) < 1e-6f && f.steps == 2 && f.width == 256, "strength %f", f.strength);
    CHECK(f.blend == 1 && f.n_from == 0, "no transition into the first scene");
    uint64_t seed0 = f.seed;
    rv_story_get_frame_at(st, 5, &f);
    CHECK(f.seed == seed0 && f.seed_blend == 0, "no drift without seed_drift");
    rv_story_choose(st, 1, &err); /* harbor */
    rv_story_get_frame_at(st, 2.5, &f);
    CHECK(f.n_prompts == 2 && fabsf(f.prompts[1].weight - 0.3f) < 1e-6f && f.prompts[0].weight == 1,
          "weights %d %f", f.n_prompts, f.prompts[1].weight);
    CHECK(strstr(f.prompts[0].text, ", realistic") != NULL, "style realistic: %s", f.prompts[0].text);
    CHECK(f.n_from == 0 && f.blend == 1, "transition over after 1 s: %f", f.blend);
    rv_story_get_frame_at(st, 0.25, &f);
    CHECK(f.n_from == 1 && fabsf(f.blend - 0.25f) < 1e-6f && strstr(f.from[0].text, "white lighthouse"),
          "transition from the shore: %f %s", f.blend, f.from[0].text);
    CHECK(fabsf(f.motion.pan_x - 0.02f) < 1e-6f, "pan %f", f.motion.pan_x);
    /* live edit: replaces the prompt until the scene is left */
    CHECK(rv_story_edit_prompt(st, "a boat on a lake", &err) == RV_OK, "%s", err.msg);
    rv_story_get_frame(st, &f);
    CHECK(f.n_prompts == 1 && strcmp(f.prompts[0].text, "a boat on a lake, realistic") == 0, "edit %s",
          f.prompts[0].text);
    CHECK(rv_story_edit_prompt(st, "\xff", &err) == RV_ERR_INVALID, "bad UTF-8 edit refused");
    rv_error_clear(&err);
    rv_story_choose(st, 1, &err); /* back to the shore */
    rv_story_choose(st, 2, &err); /* river */
    rv_story_choose(st, 0, &err); /* forest: seed drift 0.25 a second */
    rv_story_get_frame_at(st, 6, &f);
    uint64_t base = f.seed - 1;
    CHECK(fabsf(f.seed_blend - 0.5f) < 1e-6f, "drift blend %f", f.seed_blend);
    rv_story_get_frame_at(st, 0, &f);
    CHECK(f.seed == base && f.seed_blend == 0, "drift starts at the scene seed");
    CHECK(f.duration == 0 && rv_story_time_to_next(st) < 0, "a choice scene waits");
    rv_story_state_destroy(st);
    rv_story_unload(s);
}

static void clock_splits(void)
{
    rv_story *s = load_file("../scenes/playground.json");
    if (!s)
        return;
    rv_story_state *a = NULL, *b = NULL;
    rv_error err = {0};
    rv_story_state_create(&a, s, NULL, &err);
    rv_story_state_create(&b, s, NULL, &err);
    rv_story_advance(a, 37.5);
    for (int i = 0; i < 3750; i++)
        rv_story_advance(b, 0.01);
    rv_story_view va, vb;
    rv_story_get_view(a, &va);
    rv_story_get_view(b, &vb);
    CHECK(strcmp(va.scene, "cartoon") == 0, "after 37.5 s: %s", va.scene);
    CHECK(rv_story_state_digest(a) == rv_story_state_digest(b), "one step or 3750: %s vs %s", va.scene,
          vb.scene);
    rv_story_state_destroy(a);
    rv_story_state_destroy(b);
    rv_story_unload(s);
}

static void save_back_replay(void)
{
    rv_story *s = load_file("../scenes/lighthouse.json");
    if (!s)
        return;
    rv_story_state *st = NULL, *other = NULL;
    rv_error err = {0};
    rv_story_state_create(&st, s, NULL, &err);
    rv_story_advance(st, 2.25);
    uint64_t d0 = rv_story_state_digest(st);
    rv_story_choose(st, 2, &err); /* river */
    rv_story_set_visual_token(st, 1001);
    rv_story_advance(st, 1.5);
    uint64_t d1 = rv_story_state_digest(st);
    rv_story_choose(st, 0, &err); /* forest */
    rv_story_set_visual_token(st, 1002);
    rv_story_edit_prompt(st, "a campfire in the snow", &err);
    rv_story_advance(st, 0.75);
    rv_story_choose(st, 0, &err); /* oil: windmill hill */
    rv_story_advance(st, 3);

    /* save, carry on, restore: identical */
    char *saved = NULL;
    CHECK(rv_story_save(st, &saved, &err) == RV_OK, "%s", err.msg);
    uint64_t ds = rv_story_state_digest(st);
    rv_story_advance(st, 20); /* cliff path, lighthouse door */
    rv_story_choose(st, 0, &err);
    CHECK(rv_story_state_digest(st) != ds, "the state moved on");
    CHECK(rv_story_restore(st, saved, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_story_state_digest(st) == ds, "restored state equals the saved one");
    rv_story_state_create(&other, s, NULL, &err);
    CHECK(rv_story_restore(other, saved, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_story_state_digest(other) == ds, "restored into a fresh state");
    char *saved2 = NULL;
    rv_story_save(other, &saved2, &err);
    CHECK(saved2 && strcmp(saved, saved2) == 0, "save of a restored state is byte-identical");
    free(saved2);
    rv_story_state_destroy(other);
    other = NULL;

    /* corrupt saves are refused and leave the state alone */
    const char *bad[] = {"", "{}", "{\"format\": \"reverie-save/1\"}", "[1,2]",
                         ("{\"format\": \"reverie-save/1\", \"seed\": \"0000000000000001\", \"clock_us\": 5,"
                          " \"scene_us\": 1, \"state\": {\"scene\": \"nowhere\"}}")};
    for (int i = 0; i < 5; i++) {
        rv_error e2 = {0};
        CHECK(rv_story_restore(st, bad[i], &e2) == RV_ERR_FORMAT, "bad save %d accepted", i);
        CHECK(rv_story_state_digest(st) == ds, "bad save %d changed the state", i);
    }
    char *mod = strdup(saved), *at = strstr(mod, "\"windmill_hill\"");
    if (at)
        memcpy(at, "\"windmill_hxll\"", 15);
    CHECK(at && rv_story_restore(st, mod, &err) == RV_ERR_FORMAT && strstr(err.msg, "scene"),
          "unknown scene in a save: %s", err.msg);
    rv_error_clear(&err);
    free(mod);

    /* rollback: two points back is the river, one more the shore */
    uint64_t tok = 0;
    CHECK(rv_story_history_depth(st) == 3, "depth %d", rv_story_history_depth(st));
    CHECK(rv_story_back(st, 2, &tok, &err) == RV_OK && tok == 1002, "token %llu", (unsigned long long)tok);
    CHECK(rv_story_state_digest(st) == d1, "back 2 restores the river at 1.5 s");
    CHECK(rv_story_back(st, 1, &tok, &err) == RV_OK && tok == 1001, "token %llu", (unsigned long long)tok);
    CHECK(rv_story_state_digest(st) == d0, "back 1 more restores the shore at 2.25 s");
    CHECK(rv_story_back(st, 1, &tok, &err) == RV_ERR_INVALID, "no history left");
    rv_error_clear(&err);

    /* replay: the log of this whole session reproduces its state */
    rv_story_choose(st, 1, &err); /* harbor */
    rv_story_advance(st, 4.5);
    char *log = NULL;
    CHECK(rv_story_log_json(st, &log, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_story_replay(&other, s, log, &err) == RV_OK, "%s", err.msg);
    CHECK(other && rv_story_state_digest(other) == rv_story_state_digest(st), "replay reproduces the state");
    char *log2 = NULL;
    if (other)
        rv_story_log_json(other, &log2, &err);
    CHECK(log2 && strcmp(log, log2) == 0, "the replayed session logs the same events");
    free(log2);
    rv_story_state_destroy(other);
    other = NULL;
    CHECK(rv_story_replay(&other, s, "{\"format\": \"reverie-replay/1\", \"seed\": \"0000000000000001\","
                                     " \"end_us\": 10, \"events\": [{\"t\": 5, \"choose\": 9}]}", &err) ==
              RV_ERR_FORMAT, "a log choosing what is not there is refused");
    rv_error_clear(&err);
    free(log);
    free(saved);
    rv_story_state_destroy(st);
    rv_story_unload(s);
}

static void hot_reload(void)
{
    const char *v1 =
        "{\"format\": \"reverie-story/1\", \"title\": \"r\", \"variables\": {\"n\": 0, \"name\": \"a\"},"
        " \"scenes\": [{\"id\": \"one\", \"on_enter\": \"n += 1\", \"choices\": [{\"text\": \"2\", \"target\": \"two\"}]},"
        "  {\"id\": \"two\", \"on_enter\": \"n += 10\", \"choices\": [{\"text\": \"1\", \"target\": \"one\", \"once\": true},"
        "   {\"text\": \"e\", \"target\": \"end\"}]}, {\"id\": \"end\", \"ending\": true}]}";
    /* v2: 'two' has a new prompt, 'name' changed type (dropped), a new variable */
    const char *v2 =
        "{\"format\": \"reverie-story/1\", \"title\": \"r\", \"variables\": {\"n\": 0, \"name\": 5, \"extra\": true},"
        " \"scenes\": [{\"id\": \"one\", \"on_enter\": \"n += 1\", \"choices\": [{\"text\": \"2\", \"target\": \"two\"}]},"
        "  {\"id\": \"two\", \"prompt\": \"a tower\", \"on_enter\": \"n += 10\", \"choices\": [{\"text\": \"1\", \"target\": \"one\", \"once\": true},"
        "   {\"text\": \"e\", \"target\": \"end\"}]}, {\"id\": \"end\", \"ending\": true}]}";
    /* v3: 'two' is gone */
    const char *v3 =
        "{\"format\": \"reverie-story/1\", \"title\": \"r\", \"variables\": {\"n\": 0},"
        " \"scenes\": [{\"id\": \"one\", \"choices\": [{\"text\": \"e\", \"target\": \"end\"}]},"
        "  {\"id\": \"end\", \"ending\": true}]}";
    rv_story *s1 = load_mem(v1), *s2 = load_mem(v2), *s3 = load_mem(v3);
    if (!s1 || !s2 || !s3)
        return;
    rv_story_state *st = NULL;
    rv_error err = {0};
    rv_story_state_create(&st, s1, NULL, &err);
    rv_story_choose(st, 0, &err); /* two: n = 11 */
    rv_story_choose(st, 0, &err); /* one (once): n = 12 */
    rv_story_choose(st, 0, &err); /* two: n = 22 */
    rv_story_advance(st, 1.25);
    CHECK(rv_story_state_rebind(st, s2, &err) == RV_OK, "%s", err.msg);
    rv_story_unload(s1);
    rv_story_view v;
    rv_story_get_view(st, &v);
    CHECK(strcmp(v.scene, "two") == 0 && fabs(v.time - 1.25) < 1e-9, "kept scene %s at %f", v.scene, v.time);
    var_is(st, "n", "22");
    var_is(st, "name", "5");
    var_is(st, "extra", "true");
    CHECK(v.n_choices == 1, "the once-used choice stays used (%d choices)", v.n_choices);
    rv_story_frame f;
    rv_story_get_frame(st, &f);
    CHECK(f.n_prompts == 1 && strcmp(f.prompts[0].text, "a tower") == 0, "new prompt %s", f.prompts[0].text);
    CHECK(rv_story_history_depth(st) == 3, "history kept");
    CHECK(rv_story_state_rebind(st, s3, &err) == RV_OK, "%s", err.msg);
    rv_story_unload(s2);
    rv_story_get_view(st, &v);
    CHECK(strcmp(v.scene, "one") == 0, "scene gone: back to the start, got %s", v.scene);
    var_is(st, "n", "22");
    CHECK(rv_story_history_depth(st) == 2, "history points in removed scenes dropped (%d left)",
          rv_story_history_depth(st));
    rv_story_state_destroy(st);
    rv_story_unload(s3);
}

static void water_pictures(void)
{
    /* the score changes the pictures: snow for two right answers, rain else */
    rv_story *s = load_file("../scenes/water_cycle.json");
    if (!s)
        return;
    for (int good = 0; good < 2; good++) {
        rv_story_state *st = NULL;
        rv_error err = {0};
        rv_story_state_create(&st, s, NULL, &err);
        rv_story_choose(st, 0, &err);              /* evaporation */
        rv_story_advance(st, 7);                   /* the quiz */
        rv_story_choose(st, good ? 0 : 1, &err);   /* condensation */
        rv_story_advance(st, 7);                   /* the second quiz */
        rv_story_choose(st, good ? 1 : 0, &err);   /* precipitation */
        rv_story_frame f;
        rv_story_get_frame(st, &f);
        CHECK(strcmp(f.scene, "precipitation") == 0, "at %s", f.scene);
        CHECK(strstr(f.prompts[0].text, good ? "snowy mountains" : "heavy rain") != NULL, "picture %s",
              f.prompts[0].text);
        rv_story_view v;
        rv_story_get_view(st, &v);
        CHECK(strcmp(v.feedback, good ? "Right! Clouds are water drops so small they float."
                                        : "No: smoke comes from fires. Clouds are tiny drops of water.") == 0,
              "feedback %s", v.feedback);
        rv_story_state_destroy(st);
    }
    rv_story_unload(s);
}

static void graph(void)
{
    rv_story *s = load_file("../scenes/lighthouse.json");
    if (!s)
        return;
    char *dot = NULL;
    rv_error err = {0};
    CHECK(rv_story_graph_dot(s, &dot, &err) == RV_OK, "%s", err.msg);
    CHECK(dot && strncmp(dot, "digraph story {", 15) == 0, "dot header");
    CHECK(dot && strstr(dot, "\"harbor\" -> \"crossing\" [label=\"Row the boat out to the island [if has_map]\"]"),
          "conditional edge");
    CHECK(dot && strstr(dot, "\"wait\" -> \"dawn_calm\" [style=dashed"), "auto-advance edge");
    CHECK(dot && strstr(dot, "peripheries=2"), "endings marked");
    free(dot);
    rv_story_info info;
    rv_story_get_info(s, &info);
    CHECK(info.n_scenes >= 12 && info.n_endings >= 3, "adventure: %d scenes, %d endings", info.n_scenes,
          info.n_endings);
    rv_story_unload(s);
}

int main(void)
{
    expressions();
    endings();
    schedule();
    clock_splits();
    save_back_replay();
    hot_reload();
    water_pictures();
    graph();
    return rv_test_finish("test_story");
}
