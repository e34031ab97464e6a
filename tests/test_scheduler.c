/* Schedulers against diffusers (tests/fixtures/schedulers.json and the
 * fixtures' goldens.json): timesteps, sigmas and init_noise_sigma exactly,
 * each step on the host in diffusers' float32 order (bit for bit) and as
 * the coefficients the GPU path uses; config errors; the seeded noise
 * (Philox4x32-10 known answers, determinism, moments). CPU only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/noise.h"
#include "engine/scheduler.h"
#include "rv_golden.h"
#include "rv_test.h"

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    text[got] = 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int floats(const cJSON *arr, float *out, int cap)
{
    int n = 0;
    for (const cJSON *e = arr ? arr->child : NULL; e && n < cap; e = e->next)
        out[n++] = (float)e->valuedouble;
    return n;
}

/* Distance in units in the last place between two floats of one sign. */
static long ulps(float a, float b)
{
    if (a == b)
        return 0;
    if (!isfinite(a) || !isfinite(b) || (a < 0) != (b < 0))
        return 1L << 30;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return labs((long)ia - (long)ib);
}

static long max_ulps(const float *a, const float *b, int n)
{
    long m = 0;
    for (int i = 0; i < n; i++) {
        long u = ulps(a[i], b[i]);
        if (u > m)
            m = u;
    }
    return m;
}

static double nmse(const float *a, const float *b, int n)
{
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

static int n_exact, n_ulp1;

static void schedulers_json(void)
{
    char path[600];
    golden_fixture_dir("schedulers.json", path, sizeof(path));
    cJSON *doc = read_json(path);
    CHECK(doc != NULL, "read %s", path);
    if (!doc)
        return;
    const cJSON *arrays = cJSON_GetObjectItemCaseSensitive(doc, "arrays");
    float sample[64], model[64], noise[64];
    int n = floats(cJSON_GetObjectItemCaseSensitive(arrays, "sample"), sample, 64);
    floats(cJSON_GetObjectItemCaseSensitive(arrays, "model_output"), model, 64);
    floats(cJSON_GetObjectItemCaseSensitive(arrays, "noise"), noise, 64);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "schedulers");
    int idx = 0;
    for (const cJSON *e = list ? list->child : NULL; e; e = e->next, idx++) {
        const cJSON *cfgj = cJSON_GetObjectItemCaseSensitive(e, "config");
        char *text = cJSON_PrintUnformatted(cfgj);
        rv_scheduler s;
        rv_error err = {0};
        char name[64];
        snprintf(name, sizeof(name), "schedulers.json[%d]", idx);
        rv_status st = rv_scheduler_parse(&s, text, name, NULL, &err);
        CHECK(st == RV_OK, "%s: %s", name, err.msg);
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(cfgj, "prediction_type");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(cfgj, "timestep_spacing");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(cfgj, "beta_schedule");
        printf("%-22s %-8s %-12s %-13s", rv_sched_kind_name(s.kind), sp ? sp->valuestring : "-",
               pt ? pt->valuestring : "-", bs ? bs->valuestring : "-");
        free(text);
        if (st) {
            printf("\n");
            continue;
        }
        long worst_sched = 0, worst_step = 0;
        double worst_coef = 0, worst_in = 0;
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(e, "steps");
        for (const cJSON *r = steps ? steps->child : NULL; r; r = r->next) {
            int ns = atoi(r->string);
            st = rv_scheduler_set_timesteps(&s, ns, &err);
            CHECK(st == RV_OK, "%s: %d steps: %s", name, ns, err.msg);
            if (st)
                continue;
            float want[RV_SCHED_MAX_STEPS + 1];
            int nt = floats(cJSON_GetObjectItemCaseSensitive(r, "timesteps"), want, RV_SCHED_MAX_STEPS + 1);
            CHECK(nt == ns && max_ulps(s.timesteps, want, ns) == 0, "%s: %d steps: timesteps %g.. want %g..", name,
                  ns, (double)s.timesteps[0], (double)want[0]);
            const cJSON *sg = cJSON_GetObjectItemCaseSensitive(r, "sigmas");
            if (sg) {
                int nsg = floats(sg, want, RV_SCHED_MAX_STEPS + 1);
                CHECK(nsg == ns + 1, "%s: sigmas count", name);
                long u = max_ulps(s.sigmas, want, nsg);
                worst_sched = u > worst_sched ? u : worst_sched;
            }
            float ins = (float)cJSON_GetObjectItemCaseSensitive(r, "init_noise_sigma")->valuedouble;
            long u = ulps(s.init_noise_sigma, ins);
            worst_sched = u > worst_sched ? u : worst_sched;
            for (const cJSON *k = r->child; k; k = k->next) {
                if (strncmp(k->string, "step", 4) != 0 || strcmp(k->string, "steps") == 0)
                    continue;
                int i = atoi(k->string + 4);
                float w_in[64], w_prev[64], w_x0[64], prev[64], x0[64], got[64];
                floats(cJSON_GetObjectItemCaseSensitive(k, "scaled_model_input"), w_in, 64);
                floats(cJSON_GetObjectItemCaseSensitive(k, "prev_sample"), w_prev, 64);
                floats(cJSON_GetObjectItemCaseSensitive(k, "pred_original_sample"), w_x0, 64);
                float sc = rv_scheduler_input_scale(&s, i);
                for (int j = 0; j < n; j++)
                    got[j] = sample[j] * sc;
                double d = nmse(got, w_in, n);
                worst_in = d > worst_in ? d : worst_in;
                /* host step in diffusers' order */
                rv_scheduler_step_host(&s, i, model, sample, noise, prev, x0, (size_t)n);
                long a = max_ulps(prev, w_prev, n), b = max_ulps(x0, w_x0, n);
                long m = a > b ? a : b;
                worst_step = m > worst_step ? m : worst_step;
                /* the GPU path's coefficients, applied in double */
                rv_sched_coefs cp, cx;
                rv_scheduler_step_coefs(&s, i, &cp, &cx);
                for (int j = 0; j < n; j++) {
                    prev[j] = (float)((double)cp.sample * sample[j] + (double)cp.model * model[j] +
                                      (double)cp.noise * noise[j]);
                    x0[j] = (float)((double)cx.sample * sample[j] + (double)cx.model * model[j]);
                }
                double c = fmax(nmse(prev, w_prev, n), nmse(x0, w_x0, n));
                worst_coef = c > worst_coef ? c : worst_coef;
            }
        }
        printf(" timesteps exact, sigmas/init %ld ulp, step %ld ulp, coefs nmse %.1e, input nmse %.1e\n",
               worst_sched, worst_step, worst_coef, worst_in);
        CHECK(worst_sched == 0, "%s: sigmas or init_noise_sigma off by %ld ulp", name, worst_sched);
        CHECK(worst_step == 0, "%s: host step off by %ld ulp", name, worst_step);
        CHECK(worst_coef < 1e-12, "%s: coefficient step nmse %.3e", name, worst_coef);
        CHECK(worst_in < 1e-13, "%s: scale_model_input nmse %.3e", name, worst_in);
        n_exact += worst_step == 0;
        n_ulp1 += worst_step == 1;
        rv_scheduler_free(&s);
    }
    cJSON_Delete(doc);
}

/* The fixture folders' own scheduler configs against goldens.json's table. */
static void fixture_tables(void)
{
    static const char *const fixtures[] = {"tiny-sd15", "tiny-sd21"};
    for (int f = 0; f < 2; f++) {
        char dir[600], path[700];
        golden_fixture_dir(fixtures[f], dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/goldens.json", dir);
        cJSON *doc = read_json(path);
        CHECK(doc != NULL, "read %s", path);
        if (!doc)
            continue;
        snprintf(path, sizeof(path), "%s/scheduler", dir);
        rv_scheduler s;
        rv_error err = {0};
        CHECK(rv_scheduler_load(&s, path, NULL, &err) == RV_OK, "%s: %s", path, err.msg);
        const cJSON *tab = cJSON_GetObjectItemCaseSensitive(doc, "scheduler");
        int rows = 0;
        for (const cJSON *r = tab ? tab->child : NULL; r; r = r->next, rows++) {
            int ns = atoi(r->string);
            CHECK(rv_scheduler_set_timesteps(&s, ns, &err) == RV_OK, "%s", err.msg);
            float want[64];
            int nt = floats(cJSON_GetObjectItemCaseSensitive(r, "timesteps"), want, 64);
            CHECK(nt == ns && max_ulps(s.timesteps, want, ns) == 0, "%s %d steps: timesteps", fixtures[f], ns);
            const cJSON *sg = cJSON_GetObjectItemCaseSensitive(r, "sigmas");
            if (sg) {
                int nsg = floats(sg, want, 64);
                CHECK(nsg == ns + 1 && max_ulps(s.sigmas, want, nsg) == 0, "%s %d steps: sigmas", fixtures[f], ns);
            }
            const cJSON *ac = cJSON_GetObjectItemCaseSensitive(r, "alphas_cumprod");
            if (ac) {
                floats(ac, want, 64);
                for (int i = 0; i < ns; i++)
                    CHECK(s.alphas_cumprod[(int)s.timesteps[i]] == want[i], "%s: alphas_cumprod[%g]", fixtures[f],
                          (double)s.timesteps[i]);
            }
            float ins = (float)cJSON_GetObjectItemCaseSensitive(r, "init_noise_sigma")->valuedouble;
            CHECK(s.init_noise_sigma == ins, "%s %d steps: init_noise_sigma %.9g want %.9g", fixtures[f], ns,
                  (double)s.init_noise_sigma, (double)ins);
        }
        printf("%s: %s, %d schedules match goldens.json\n", fixtures[f], rv_sched_kind_name(s.kind), rows);
        rv_scheduler_free(&s);
        cJSON_Delete(doc);
    }
}

static void expect_error(const char *json, const char *override, rv_status code, const char *pattern)
{
    rv_scheduler s;
    rv_error err = {0};
    rv_status st = rv_scheduler_parse(&s, json, "scheduler_config.json", override, &err);
    CHECK(st == code && strstr(err.msg, pattern), "config %s: got %s \"%s\", want %s \"%s\"", json,
          rv_status_name(st), err.msg, rv_status_name(code), pattern);
    rv_scheduler_free(&s);
}

static void config_errors(void)
{
    expect_error("{\"_class_name\": \"PNDMScheduler\"}", NULL, RV_ERR_FORMAT,
                 "\"PNDMScheduler\" is not supported");
    expect_error("{\"_class_name\": \"PNDMScheduler\", \"skip_prk_steps\": true}", "frob", RV_ERR_FORMAT,
                 "scheduler \"frob\" is not supported");
    expect_error("{\"beta_start\": 0.001}", NULL, RV_ERR_FORMAT, "_class_name");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"wobble\": 3}", NULL, RV_ERR_FORMAT,
                 "key \"wobble\": unknown option");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"use_karras_sigmas\": true}", NULL, RV_ERR_FORMAT,
                 "key \"use_karras_sigmas\"");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"timestep_spacing\": \"sideways\"}", NULL,
                 RV_ERR_FORMAT, "\"sideways\" is not supported (supported: linspace, leading, trailing)");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"beta_schedule\": \"squaredcos_cap_v2\"}", NULL,
                 RV_ERR_FORMAT, "key \"beta_schedule\"");
    expect_error("{\"_class_name\": \"LCMScheduler\", \"prediction_type\": \"original_sample\"}", NULL,
                 RV_ERR_FORMAT, "key \"prediction_type\"");
    expect_error("{\"_class_name\": \"LCMScheduler\", \"thresholding\": true}", NULL, RV_ERR_FORMAT,
                 "key \"thresholding\"");
    expect_error("{\"_class_name\": \"LCMScheduler\", \"original_inference_steps\": 5000}", NULL, RV_ERR_FORMAT,
                 "key \"original_inference_steps\"");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"num_train_timesteps\": \"many\"}", NULL,
                 RV_ERR_FORMAT, "key \"num_train_timesteps\"");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\", \"trained_betas\": [0.1, 0.2]}", NULL,
                 RV_ERR_FORMAT, "key \"trained_betas\"");
    expect_error("{\"_class_name\": \"EulerDiscreteScheduler\",", NULL, RV_ERR_FORMAT, "scheduler_config.json");
    expect_error("[1, 2]", NULL, RV_ERR_FORMAT, "scheduler_config.json");

    /* SD 1.5's PNDM config as Euler (diffusers' from_config override) */
    rv_scheduler s;
    rv_error err = {0};
    const char *pndm = "{\"_class_name\": \"PNDMScheduler\", \"beta_end\": 0.012, \"beta_schedule\": "
                       "\"scaled_linear\", \"beta_start\": 0.00085, \"num_train_timesteps\": 1000, "
                       "\"set_alpha_to_one\": false, \"skip_prk_steps\": true, \"steps_offset\": 1, "
                       "\"trained_betas\": null, \"clip_sample\": false}";
    CHECK(rv_scheduler_parse(&s, pndm, "pndm", "euler", &err) == RV_OK && s.kind == RV_SCHED_EULER, "%s", err.msg);
    CHECK(rv_scheduler_set_timesteps(&s, 4, &err) == RV_OK && s.timesteps[0] == 999.0f && s.timesteps[1] == 666.0f && s.timesteps[3] == 0.0f,
          "PNDM config as Euler (default linspace spacing): %g .. %g", (double)s.timesteps[0], (double)s.timesteps[3]);
    rv_scheduler_free(&s);
    CHECK(rv_scheduler_parse(&s, pndm, "pndm", "lcm", &err) == RV_OK && s.kind == RV_SCHED_LCM, "%s", err.msg);
    CHECK(rv_scheduler_set_timesteps(&s, 100, &err) == RV_ERR_INVALID && strstr(err.msg, "do not fit"),
          "LCM 100 steps of 50: %s", err.msg);
    rv_error_clear(&err);
    CHECK(rv_scheduler_set_timesteps(&s, 0, &err) == RV_ERR_INVALID, "0 steps");
    rv_scheduler_free(&s);
    /* trained betas and the zero-SNR rescale give finite, decreasing alphas */
    char tb[20000];
    size_t o = (size_t)snprintf(tb, sizeof(tb), "{\"_class_name\": \"EulerDiscreteScheduler\", "
                                                "\"num_train_timesteps\": 100, \"rescale_betas_zero_snr\": true, "
                                                "\"timestep_spacing\": \"trailing\", \"trained_betas\": [");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(tb + o, sizeof(tb) - o, "%s%g", i ? ", " : "", 0.001 + 0.0002 * i);
    snprintf(tb + o, sizeof(tb) - o, "]}");
    rv_error_clear(&err);
    CHECK(rv_scheduler_parse(&s, tb, "trained", NULL, &err) == RV_OK, "%s", err.msg);
    CHECK(rv_scheduler_set_timesteps(&s, 4, &err) == RV_OK && isfinite(s.sigmas[0]) && s.sigmas[0] > s.sigmas[1] &&
              s.alphas_cumprod[99] == 0x1p-24f,
          "zero snr: %s sigma0 %g", err.msg, (double)s.sigmas[0]);
    rv_scheduler_free(&s);
}

static void img2img_and_guidance(void)
{
    CHECK(rv_scheduler_img2img_start(4, 0.5f) == 2, "img2img 4 steps 0.5");
    CHECK(rv_scheduler_img2img_start(2, 0.5f) == 1, "img2img 2 steps 0.5");
    CHECK(rv_scheduler_img2img_start(4, 1.0f) == 0, "img2img strength 1");
    CHECK(rv_scheduler_img2img_start(1, 0.5f) == -1, "img2img no step");
    CHECK(rv_scheduler_img2img_start(4, 0.0f) == -1, "img2img strength 0");
    float e[7];
    rv_guidance_embedding(0.0f, 7, e);
    CHECK(e[0] == 0.0f && e[3] == 1.0f && e[6] == 0.0f, "guidance embedding of w=0");
}

static void noise(void)
{
    /* Random123's known-answer tests for philox4x32_10 */
    static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                       {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                       {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
    static const uint32_t key[3][2] = {{0, 0}, {0xffffffff, 0xffffffff}, {0xa4093822, 0x299f31d0}};
    static const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                        {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                        {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        rv_philox4x32(ctr[t], key[t], out);
        CHECK(memcmp(out, want[t], sizeof(out)) == 0, "philox KAT %d: %08x %08x %08x %08x", t, out[0], out[1],
              out[2], out[3]);
    }
    enum { N = 1 << 16 };
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    rv_noise_normal(42, RV_NOISE_STREAM_INIT, 0, a, N);
    rv_noise_normal(42, RV_NOISE_STREAM_INIT, 0, b, N);
    CHECK(memcmp(a, b, N * sizeof(float)) == 0, "same seed, same noise");
    rv_noise_normal(42, RV_NOISE_STREAM_INIT, 1001, b, 10);
    CHECK(memcmp(a + 1001, b, 10 * sizeof(float)) == 0, "a value depends on its index only");
    rv_noise_normal(43, RV_NOISE_STREAM_INIT, 0, b, N);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += a[i] == b[i];
    CHECK(same < 4, "another seed gives other noise (%d equal)", same);
    rv_noise_normal(42, RV_NOISE_STREAM_STEP(0), 0, b, N);
    same = 0;
    for (int i = 0; i < N; i++)
        same += a[i] == b[i];
    CHECK(same < 4, "another stream gives other noise (%d equal)", same);
    double m = 0, v = 0, k = 0;
    for (int i = 0; i < N; i++)
        m += a[i];
    m /= N;
    for (int i = 0; i < N; i++) {
        double d = a[i] - m;
        v += d * d;
        k += d * d * d * d;
    }
    v /= N;
    k = k / N / (v * v);
    printf("noise: mean %+.4f var %.4f kurtosis %.3f over %d values\n", m, v, k, N);
    CHECK(fabs(m) < 0.02 && fabs(v - 1) < 0.02 && fabs(k - 3) < 0.1, "noise moments mean %g var %g kurt %g", m, v,
          k);
    free(a);
    free(b);
}

int main(void)
{
    schedulers_json();
    fixture_tables();
    config_errors();
    img2img_and_guidance();
    noise();
    printf("host steps: %d configs bit-exact, %d within 1 ulp\n", n_exact, n_ulp1);
    return rv_test_finish("test_scheduler");
}
