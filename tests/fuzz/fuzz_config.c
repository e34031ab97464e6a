/* Fuzz target: the JSON config parsers. The first byte picks one (UNet,
 * VAE, TAESD, CLIP text config.json, model_index.json, scheduler_config.json
 * plain and with each --scheduler override, the typed rv_cfg getters); the
 * rest is the JSON text. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/scheduler.h"
#include "fuzz_util.h"
#include "loader/config.h"
#include "loader/diffusers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *json = fuzz_cstr(data + 1, size - 1);
    rv_error err = {0};
    rv_status s = RV_OK;
    switch (data[0] % 8) {
    case 0: {
        rv_unet_config c;
        s = rv_unet_config_parse(&c, json, "unet/config.json", &err);
        break;
    }
    case 1: {
        rv_vae_config c;
        s = rv_vae_config_parse(&c, json, "vae/config.json", &err);
        break;
    }
    case 2: {
        rv_taesd_config c;
        s = rv_taesd_config_parse(&c, json, "vae_tiny/config.json", &err);
        break;
    }
    case 3: {
        rv_clip_text_config c;
        s = rv_clip_text_config_parse(&c, json, "text_encoder/config.json", &err);
        break;
    }
    case 4: {
        rv_model_index idx;
        s = rv_model_index_parse(&idx, json, "model_index.json", &err);
        if (!s && (idx.count < 1 || idx.count > RV_MAX_COMPONENTS))
            abort();
        break;
    }
    case 5:
    case 6: {
        static const char *const overrides[] = {NULL, "euler", "lcm"};
        rv_scheduler sc;
        memset(&sc, 0, sizeof(sc));
        s = rv_scheduler_parse(&sc, json, "scheduler/scheduler_config.json", overrides[data[0] / 8 % 3], &err);
        if (!s) {
            /* a parsed scheduler must take every step count */
            rv_error e2 = {0};
            int steps = 1 + data[0] / 32 % 8;
            if (rv_scheduler_set_timesteps(&sc, steps, &e2) == RV_OK)
                for (int i = 0; i < steps; i++) {
                    rv_sched_coefs prev, x0;
                    rv_scheduler_step_coefs(&sc, i, &prev, &x0);
                    (void)rv_scheduler_input_scale(&sc, i);
                }
        }
        rv_scheduler_free(&sc);
        break;
    }
    default: {
        rv_cfg c;
        s = rv_cfg_parse(&c, json, "config.json", &err);
        if (!s) {
            const char *keys[] = {"a", "block_out_channels", "sample_size", "_class_name", ""};
            uint32_t list[RV_MAX_BLOCKS];
            const char *strs[RV_MAX_BLOCKS];
            for (int k = 0; k < 5; k++) {
                rv_cfg_uint(&c, keys[k], 1, false);
                rv_cfg_int(&c, keys[k], 1, false);
                rv_cfg_num(&c, keys[k], 1, false);
                rv_cfg_bool(&c, keys[k], false, false);
                rv_cfg_str(&c, keys[k], "", false);
                rv_cfg_uint_list(&c, keys[k], list, RV_MAX_BLOCKS, true, 3, false);
                rv_cfg_str_list(&c, keys[k], strs, RV_MAX_BLOCKS, false);
            }
            static const char *const known[] = {"a", NULL};
            rv_cfg_check_keys(&c, known, NULL, 0, true);
            rv_cfg_free(&c);
        }
        break;
    }
    }
    if (s && !err.msg[0])
        abort();   /* every failure says why */
    free(json);
    return 0;
}
