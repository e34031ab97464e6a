/* rv_gpu_pick (rv_device.h): which device a desc picks, for `reverie
 * devices`, which otherwise needs nothing but the public device types. Not
 * the device selection itself (device.c). */
#include "rv_gpu.h"

rv_status rv_gpu_pick(const rv_gpu_desc *desc, int *index, rv_error *err)
{
    *index = -1;
    rv_gpu *gpu = NULL;
    rv_status st = rv_gpu_create(&gpu, desc, err);
    if (st)
        return st;
    *index = rv_gpu_device_index(gpu);
    rv_gpu_destroy(gpu);
    return RV_OK;
}
