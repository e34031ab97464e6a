/* `reverie devices`: lists every Vulkan device with the features and limits
 * Reverie chooses paths by, and marks the one it would pick. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rv_device.h"

static void help(void)
{
    printf("usage: reverie devices [--json] [--device N|NAME]\n\n"
           "Lists the Vulkan devices and the features Reverie uses: 16-bit storage\n"
           "(fp16 path), shaderFloat16, subgroup sizes, cooperative matrix, push\n"
           "descriptors, shared memory and workgroup limits. The device that `gen`,\n"
           "`play` and `bench` would use is marked with '*'.\n");
}

static const char *yn(bool b) { return b ? "yes" : "no"; }

int rv_cmd_devices_main(int argc, char **argv)
{
    bool json = false;
    rv_gpu_desc desc = {0};
    static const rv_cli_opt opts[] = {{"json", 0, false, 256}, {0}};
    rv_cli_parser p;
    rv_cli_parser_init(&p, "devices", opts, &desc, argc, argv);
    for (int c; (c = rv_cli_next(&p)) != RV_CLI_END;) {
        if (c == RV_CLI_HELP) {
            help();
            return 0;
        }
        if (c == RV_CLI_ERROR)
            return 1;
        json = true;
    }
    if (p.operand < argc) {
        fprintf(stderr, "reverie devices: unexpected argument \"%s\" (see --help)\n", argv[p.operand]);
        return 1;
    }
    rv_device_info infos[16];
    int n = 0;
    rv_error err = {0};
    if (rv_gpu_enumerate(infos, 16, &n, &err) != RV_OK) {
        fprintf(stderr, "reverie devices: %s: %s\n", rv_status_name(err.code), err.msg);
        return 2;
    }
    if (n > 16)
        n = 16;
    /* which device would be chosen: create it, as the other commands do */
    int chosen = -1;
    rv_error cerr = {0};
    rv_gpu_pick(&desc, &chosen, &cerr);
    if (json)
        printf("[\n");
    for (int i = 0; i < n; i++) {
        const rv_device_info *d = &infos[i];
        unsigned maj = d->api_version >> 22, min = (d->api_version >> 12) & 0x3ff, pat = d->api_version & 0xfff;
        if (json) {
            printf("  {\"index\": %d, \"chosen\": %s, \"name\": \"%s\", \"type\": \"%s\", \"vulkan\": \"%u.%u.%u\", "
                   "\"vendor_id\": %u, \"device_id\": %u, \"storage16\": %s, \"float16\": %s, \"int8\": %s, "
                   "\"subgroup_size\": %u, \"subgroup_min\": %u, \"subgroup_max\": %u, \"subgroup_size_control\": %s, "
                   "\"subgroup_arithmetic\": %s, "
                   "\"cooperative_matrix\": %s, \"push_descriptor\": %s, \"timestamps\": %s, "
                   "\"max_shared_bytes\": %u, \"max_workgroup_invocations\": %u, \"max_storage_range\": %llu, "
                   "\"max_allocation\": %llu, \"device_local_bytes\": %llu}%s\n",
                   i, i == chosen ? "true" : "false", d->name, d->type, maj, min, pat, d->vendor_id, d->device_id,
                   d->storage16 ? "true" : "false", d->float16 ? "true" : "false", d->int8 ? "true" : "false",
                   d->subgroup_size, d->subgroup_min, d->subgroup_max, d->subgroup_size_control ? "true" : "false",
                   d->subgroup_arith ? "true" : "false", d->coopmat ? "true" : "false", d->push_descriptor ? "true" : "false",
                   d->timestamps ? "true" : "false", d->max_shared_bytes, d->max_wg_invocations,
                   (unsigned long long)d->max_storage_range, (unsigned long long)d->max_alloc,
                   (unsigned long long)d->device_local_bytes, i + 1 < n ? "," : "");
            continue;
        }
        printf("%c %d: %s (%s, Vulkan %u.%u.%u)\n", i == chosen ? '*' : ' ', i, d->name, d->type, maj, min, pat);
        printf("    driver: %s\n", d->driver);
        printf("    fp16 storage: %s, shaderFloat16: %s, int8: %s, cooperative matrix: %s\n", yn(d->storage16),
               yn(d->float16), yn(d->int8), yn(d->coopmat));
        printf("    subgroup: %u (min %u, max %u, size control %s, arithmetic %s), push descriptors: %s, "
               "timestamps: %s\n",
               d->subgroup_size, d->subgroup_min, d->subgroup_max, yn(d->subgroup_size_control), yn(d->subgroup_arith),
               yn(d->push_descriptor), yn(d->timestamps));
        printf("    shared memory: %u B, workgroup: %u invocations, storage binding: %llu MiB, "
               "allocation: %llu MiB, device-local: %llu MiB\n",
               d->max_shared_bytes, d->max_wg_invocations, (unsigned long long)(d->max_storage_range >> 20),
               (unsigned long long)(d->max_alloc >> 20), (unsigned long long)(d->device_local_bytes >> 20));
        printf("    precision Reverie uses: %s\n", d->storage16 ? "fp16 storage, fp32 arithmetic" : "fp32");
    }
    if (json)
        printf("]\n");
    if (chosen < 0) {
        fprintf(stderr, "reverie devices: no usable device: %s\n", cerr.msg);
        return 2;
    }
    return 0;
}
