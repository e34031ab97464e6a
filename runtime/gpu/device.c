/* Vulkan instance and device: loading through volk, device choice, feature
 * detection, validation messages. Memory, pipelines and commands live in
 * their own files. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/half.h"
#include "vk_internal.h"

#define RV_VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char *rv_vk_result_name(VkResult r)
{
    switch (r) {
#define C(x) case x: return #x;
    C(VK_SUCCESS) C(VK_NOT_READY) C(VK_TIMEOUT) C(VK_EVENT_SET) C(VK_EVENT_RESET)
    C(VK_INCOMPLETE) C(VK_ERROR_OUT_OF_HOST_MEMORY) C(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    C(VK_ERROR_INITIALIZATION_FAILED) C(VK_ERROR_DEVICE_LOST) C(VK_ERROR_MEMORY_MAP_FAILED)
    C(VK_ERROR_LAYER_NOT_PRESENT) C(VK_ERROR_EXTENSION_NOT_PRESENT)
    C(VK_ERROR_FEATURE_NOT_PRESENT) C(VK_ERROR_INCOMPATIBLE_DRIVER)
    C(VK_ERROR_TOO_MANY_OBJECTS) C(VK_ERROR_FORMAT_NOT_SUPPORTED)
    C(VK_ERROR_FRAGMENTED_POOL) C(VK_ERROR_UNKNOWN) C(VK_ERROR_OUT_OF_POOL_MEMORY)
    C(VK_ERROR_INVALID_EXTERNAL_HANDLE) C(VK_ERROR_FRAGMENTATION)
    C(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) C(VK_PIPELINE_COMPILE_REQUIRED)
    C(VK_ERROR_INVALID_SHADER_NV)
#undef C
    default: return "VK_ERROR_(unnamed)";
    }
}

rv_status rv_vk_status(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return RV_OK;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return RV_ERR_DEVICE_MEMORY;
    case VK_ERROR_OUT_OF_HOST_MEMORY: return RV_ERR_HOST_MEMORY;
    case VK_ERROR_DEVICE_LOST: return RV_ERR_DEVICE_LOST;
    case VK_ERROR_INVALID_SHADER_NV: return RV_ERR_PIPELINE;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_INITIALIZATION_FAILED: return RV_ERR_NO_DEVICE;
    default: return RV_ERR_VULKAN;
    }
}

size_t rv_dtype_size(rv_dtype t)
{
    switch (t) {
    case RV_F32: return 4;
    case RV_F16: return 2;
    case RV_U8X4: return 4;
    }
    return 4;
}

const char *rv_dtype_name(rv_dtype t)
{
    switch (t) {
    case RV_F32: return "f32";
    case RV_F16: return "f16";
    case RV_U8X4: return "rgba8";
    }
    return "?";
}

float rv_dtype_round(rv_dtype t, float v) { return t == RV_F16 ? rv_f16_to_f32(rv_f32_to_f16(v)) : v; }

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                               VkDebugUtilsMessageTypeFlagsEXT type,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data,
                                               void *user)
{
    rv_gpu *gpu = user;
    if (sev & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        gpu->validation_messages++;
        fprintf(stderr, "VK: validation: %s\n", data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
}

static bool has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *props = calloc(n, sizeof(*props));
    if (!props)
        return false;
    bool found = false;
    if (vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(props[i].layerName, name) == 0)
                found = true;
    free(props);
    return found;
}

static bool has_device_ext(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *props = calloc(n, sizeof(*props));
    if (!props)
        return false;
    bool found = false;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(props[i].extensionName, name) == 0)
                found = true;
    free(props);
    return found;
}

static rv_status load_vulkan(rv_error *err)
{
    static int loaded = 0;
    if (loaded)
        return RV_OK;
    VkResult r = volkInitialize();
    if (r != VK_SUCCESS)
        return rv_error_set(err, RV_ERR_NO_DEVICE,
                            "VK: cannot load the Vulkan loader (libvulkan.so.1): %s; install libvulkan1 and a driver "
                            "(mesa-vulkan-drivers provides the lavapipe CPU device)",
                            rv_vk_result_name(r));
    loaded = 1;
    return RV_OK;
}

static VkDebugUtilsMessengerCreateInfoEXT messenger_info(rv_gpu *gpu)
{
    return (VkDebugUtilsMessengerCreateInfoEXT){
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_cb,
        .pUserData = gpu,
    };
}

/* With validation, `gpu` receives the messages of instance creation and
 * destruction too (the messenger is chained into the create info). */
static rv_status create_instance(VkInstance *out, bool validation, rv_gpu *gpu, rv_error *err)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "reverie",
        .applicationVersion = 1,
        .pEngineName = "reverie",
        .apiVersion = VK_API_VERSION_1_2,
    };
    const char *layers[1] = {RV_VALIDATION_LAYER};
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    if (validation) {
        if (!has_layer(RV_VALIDATION_LAYER))
            return rv_error_set(err, RV_ERR_UNSUPPORTED,
                                "VK: validation requested but %s is not installed (apt-get install vulkan-validationlayers)",
                                RV_VALIDATION_LAYER);
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = layers;
        ci.enabledExtensionCount = 1;
        ci.ppEnabledExtensionNames = exts;
    }
    VkDebugUtilsMessengerCreateInfoEXT mci = messenger_info(gpu);
    if (validation && gpu)
        ci.pNext = &mci;
    VkResult r = vkCreateInstance(&ci, NULL, out);
    if (r != VK_SUCCESS)
        return rv_error_set(err, r == VK_ERROR_INCOMPATIBLE_DRIVER ? RV_ERR_NO_DEVICE : rv_vk_status(r),
                            "VK: no Vulkan device: vkCreateInstance failed: %s (%s:%d); install a driver "
                            "(mesa-vulkan-drivers provides the lavapipe CPU device) and check VK_ICD_FILENAMES",
                            rv_vk_result_name(r), __FILE__, __LINE__);
    volkLoadInstanceOnly(*out);
    return RV_OK;
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static void query_info(VkPhysicalDevice pd, rv_device_info *info, uint32_t *ts_bits, uint32_t *qfam)
{
    memset(info, 0, sizeof(*info));
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &drv};
    VkPhysicalDeviceSubgroupSizeControlPropertiesEXT sgc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT, .pNext = &sg};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sgc};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    const VkPhysicalDeviceProperties *p = &p2.properties;

    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &f11};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fsgc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT, .pNext = &f12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &fsgc};
    bool is12 = p->apiVersion >= VK_API_VERSION_1_2;
    if (is12)
        vkGetPhysicalDeviceFeatures2(pd, &f2);

    snprintf(info->name, sizeof(info->name), "%s", p->deviceName);
    snprintf(info->type, sizeof(info->type), "%s", type_name(p->deviceType));
    snprintf(info->driver, sizeof(info->driver), "%s %s", drv.driverName, drv.driverInfo);
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    info->api_version = p->apiVersion;
    info->storage16 = is12 && f11.storageBuffer16BitAccess;
    info->float16 = is12 && f12.shaderFloat16;
    info->int8 = is12 && f12.shaderInt8;
    info->push_descriptor = has_device_ext(pd, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    info->subgroup_size_control = is12 && fsgc.subgroupSizeControl;
    info->coopmat = has_device_ext(pd, "VK_KHR_cooperative_matrix");
    info->subgroup_size = sg.subgroupSize;
    info->subgroup_arith = (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                           (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    info->subgroup_shuffle = (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                             (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    info->subgroup_min = sgc.minSubgroupSize ? sgc.minSubgroupSize : sg.subgroupSize;
    info->subgroup_max = sgc.maxSubgroupSize ? sgc.maxSubgroupSize : sg.subgroupSize;
    info->max_wg_invocations = p->limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++)
        info->max_wg_size[i] = p->limits.maxComputeWorkGroupSize[i];
    for (int i = 0; i < 3; i++)
        info->max_wg_count[i] = p->limits.maxComputeWorkGroupCount[i];
    info->max_shared_bytes = p->limits.maxComputeSharedMemorySize;
    info->max_storage_range = p->limits.maxStorageBufferRange;
    info->max_uniform_range = p->limits.maxUniformBufferRange;
    info->uniform_align = p->limits.minUniformBufferOffsetAlignment;
    info->timestamp_period_ns = p->limits.timestampPeriod;

    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 pm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    vkGetPhysicalDeviceProperties2(pd, &pm);
    info->max_alloc = m3.maxMemoryAllocationSize;

    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info->device_local_bytes += mp.memoryHeaps[i].size;

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties qp[16];
    if (nq > 16)
        nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qp);
    uint32_t fam = UINT32_MAX, best = 0;
    for (uint32_t i = 0; i < nq; i++) {
        if (!(qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
            continue;
        /* prefer a compute queue that also does graphics (presentation later) */
        uint32_t score = 1 + ((qp[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) ? 1 : 0);
        if (score > best) {
            best = score;
            fam = i;
        }
    }
    if (qfam)
        *qfam = fam;
    uint32_t bits = fam != UINT32_MAX ? qp[fam].timestampValidBits : 0;
    if (ts_bits)
        *ts_bits = bits;
    info->timestamps = bits > 0 && p->limits.timestampComputeAndGraphics;
}

static rv_status list_devices(VkInstance inst, VkPhysicalDevice **out, uint32_t *count, rv_error *err)
{
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(inst, &n, NULL);
    if (r != VK_SUCCESS || n == 0) {
        const char *icd = getenv("VK_ICD_FILENAMES");
        return rv_error_set(err, RV_ERR_NO_DEVICE,
                            "VK: no Vulkan device found (%s)%s%s; on a machine without a GPU install "
                            "mesa-vulkan-drivers and set VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
                            r == VK_SUCCESS ? "0 devices" : rv_vk_result_name(r),
                            icd ? ", VK_ICD_FILENAMES=" : "", icd ? icd : "");
    }
    *out = calloc(n, sizeof(**out));
    if (!*out)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory listing devices");
    r = vkEnumeratePhysicalDevices(inst, &n, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        *out = NULL;
        return rv_error_set(err, rv_vk_status(r), "VK: vkEnumeratePhysicalDevices failed: %s", rv_vk_result_name(r));
    }
    *count = n;
    return RV_OK;
}

rv_status rv_gpu_enumerate(rv_device_info *out, int cap, int *count, rv_error *err)
{
    rv_status st = load_vulkan(err);
    if (st)
        return st;
    VkInstance inst = VK_NULL_HANDLE;
    st = create_instance(&inst, false, NULL, err);
    if (st)
        return st;
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    st = list_devices(inst, &pds, &n, err);
    if (st == RV_OK) {
        for (uint32_t i = 0; i < n && out && (int)i < cap; i++)
            query_info(pds[i], &out[i], NULL, NULL);
        *count = (int)n;
    }
    free(pds);
    vkDestroyInstance(inst, NULL);
    return st;
}

static bool name_matches(const char *name, const char *want)
{
    size_t nw = strlen(want);
    for (const char *p = name; *p; p++) {
        size_t i = 0;
        while (i < nw && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)want[i]))
            i++;
        if (i == nw)
            return true;
    }
    return nw == 0;
}

static rv_status choose_device(rv_gpu *gpu, VkPhysicalDevice *pds, uint32_t n, const rv_gpu_desc *desc, rv_error *err)
{
    const char *env = getenv("RV_DEVICE");
    int index = -1;
    const char *name = desc ? desc->device_name : NULL;
    if (desc && desc->device_index_set)
        index = desc->device_index;
    else if (!name && env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (end && *end == 0)
            index = (int)v;
        else
            name = env;
    }
    if (index >= 0) {
        if ((uint32_t)index >= n)
            return rv_error_set(err, RV_ERR_NO_DEVICE, "VK: device index %d requested but only %u device(s) exist",
                                index, n);
        gpu->device_index = index;
        return RV_OK;
    }
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (name) {
            if (name_matches(p.deviceName, name)) {
                best = (int)i;
                break;
            }
            continue;
        }
        if (p.apiVersion < VK_API_VERSION_1_2)
            continue;
        int rank = type_rank(p.deviceType);
        if (rank > best_rank) {
            best_rank = rank;
            best = (int)i;
        }
    }
    if (best < 0)
        return name ? rv_error_set(err, RV_ERR_NO_DEVICE, "VK: no device name contains \"%s\" (see `reverie devices`)", name)
                    : rv_error_set(err, RV_ERR_NO_DEVICE, "VK: no device supports Vulkan 1.2");
    gpu->device_index = best;
    return RV_OK;
}

rv_status rv_gpu_create(rv_gpu **out, const rv_gpu_desc *desc, rv_error *err)
{
    *out = NULL;
    rv_status st = load_vulkan(err);
    if (st)
        return st;
    rv_gpu *gpu = calloc(1, sizeof(*gpu));
    if (!gpu)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VK: out of host memory");
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    const char *venv = getenv("RV_VALIDATION");
    bool validation = (desc && desc->validation) || (venv && *venv && strcmp(venv, "0") != 0);

    st = create_instance(&gpu->instance, validation, gpu, err);
    if (st)
        goto fail;
    if (validation) {
        VkDebugUtilsMessengerCreateInfoEXT mci = messenger_info(gpu);
        VK_CHECK_GOTO(vkCreateDebugUtilsMessengerEXT(gpu->instance, &mci, NULL, &gpu->messenger), err, st);
    }
    st = list_devices(gpu->instance, &pds, &n, err);
    if (st)
        goto fail;
    st = choose_device(gpu, pds, n, desc, err);
    if (st)
        goto fail;
    gpu->phys = pds[gpu->device_index];
    query_info(gpu->phys, &gpu->info, &gpu->timestamp_bits, &gpu->queue_family);
    if (gpu->info.api_version < VK_API_VERSION_1_2) {
        st = rv_error_set(err, RV_ERR_UNSUPPORTED, "VK: device \"%s\" supports only Vulkan %u.%u; Reverie needs 1.2",
                          gpu->info.name, VK_API_VERSION_MAJOR(gpu->info.api_version),
                          VK_API_VERSION_MINOR(gpu->info.api_version));
        goto fail;
    }
    if (gpu->queue_family == UINT32_MAX) {
        st = rv_error_set(err, RV_ERR_NO_DEVICE, "VK: device \"%s\" has no compute queue", gpu->info.name);
        goto fail;
    }

    rv_precision prec = desc ? desc->precision : RV_PRECISION_AUTO;
    const char *penv = getenv("RV_PRECISION");
    if (prec == RV_PRECISION_AUTO && penv && strcmp(penv, "f32") == 0)
        prec = RV_PRECISION_F32;
    else if (prec == RV_PRECISION_AUTO && penv && strcmp(penv, "f16") == 0)
        prec = RV_PRECISION_F16;
    /* auto on a CPU device (lavapipe) is fp32: there a texel fetch of fp16
     * converts per lane and every fp16 store converts in integer code, and a
     * shipped-model frame took 198 ms in fp16 against 167 ms in fp32 (256x256,
     * 2 threads, 4 alternated runs; runtime/gpu/PERFORMANCE.md) */
    if (prec == RV_PRECISION_AUTO && strcmp(gpu->info.type, "cpu") == 0)
        prec = RV_PRECISION_F32;
    if (prec == RV_PRECISION_F16 && !gpu->info.storage16) {
        st = rv_error_set(err, RV_ERR_UNSUPPORTED, "VK: fp16 requested but \"%s\" lacks storageBuffer16BitAccess",
                          gpu->info.name);
        goto fail;
    }
    gpu->dtype = (prec == RV_PRECISION_F32 || !gpu->info.storage16) ? RV_F32 : RV_F16;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = gpu->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .storageBuffer16BitAccess = gpu->info.storage16,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .pNext = &f11,
        .shaderFloat16 = gpu->info.float16,
        .shaderInt8 = gpu->info.int8,
    };
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    const char *exts[2];
    uint32_t next = 0;
    if (gpu->info.push_descriptor)
        exts[next++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    if (getenv("RV_NO_PUSH_DESCRIPTOR")) {
        /* exercises the descriptor-pool path on devices that have push descriptors */
        gpu->info.push_descriptor = false;
        next = 0;
    }
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = next,
        .ppEnabledExtensionNames = exts,
    };
    VK_CHECK_GOTO(vkCreateDevice(gpu->phys, &dci, NULL, &gpu->device), err, st);
    volkLoadDevice(gpu->device);
    vkGetDeviceQueue(gpu->device, gpu->queue_family, 0, &gpu->queue);

    vkGetPhysicalDeviceMemoryProperties(gpu->phys, &gpu->memprops);
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(gpu->phys, &props);
    gpu->storage_align = props.limits.minStorageBufferOffsetAlignment;
    if (gpu->storage_align < 16)
        gpu->storage_align = 16;
    gpu->uniform_align = props.limits.minUniformBufferOffsetAlignment;
    if (gpu->uniform_align < 16)
        gpu->uniform_align = 16;
    /* RV_UNIFORM_ALIGN (a larger power of two, for tests): a GPU's coarser
     * uniform-buffer offset alignment on a device that has a fine one */
    const char *ua = getenv("RV_UNIFORM_ALIGN");
    if (ua && *ua) {
        unsigned long v = strtoul(ua, NULL, 10);
        if (v > gpu->uniform_align && v <= 4096 && (v & (v - 1)) == 0)
            gpu->uniform_align = v;
    }
    /* RGBA texel views of the tensor blocks (tconv.comp): both formats must
     * be readable as uniform texel buffers */
    gpu->max_texels = props.limits.maxTexelBufferElements;
    gpu->texel_views = gpu->max_texels >= 4096;
    static const VkFormat texel_formats[2] = {VK_FORMAT_R32G32B32A32_SFLOAT, VK_FORMAT_R16G16B16A16_SFLOAT};
    for (int i = 0; i < 2; i++) {
        VkFormatProperties fp;
        vkGetPhysicalDeviceFormatProperties(gpu->phys, texel_formats[i], &fp);
        if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
            gpu->texel_views = false;
    }
    gpu->block_size = desc && desc->block_size ? desc->block_size : (256ull << 20);
    if (gpu->info.max_alloc && gpu->block_size > gpu->info.max_alloc)
        gpu->block_size = gpu->info.max_alloc;
    gpu->memory_limit = desc ? desc->memory_limit : 0;
    const char *menv = getenv("RV_MAX_MEMORY_MB");
    if (!gpu->memory_limit && menv && *menv) {
        char *end = NULL;
        unsigned long long mb = strtoull(menv, &end, 10);
        if (!end || *end || mb == 0) {
            st = rv_error_set(err, RV_ERR_INVALID, "VK: RV_MAX_MEMORY_MB must be a positive number of MiB, not \"%s\"",
                              menv);
            goto fail;
        }
        gpu->memory_limit = mb << 20;
    }
    gpu->device_type_index = rv_find_memory_type(gpu, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    gpu->host_type_index = rv_find_memory_type(gpu, ~0u,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    if (gpu->host_type_index == UINT32_MAX)
        gpu->host_type_index = rv_find_memory_type(gpu, ~0u,
            VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);

    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = gpu->queue_family,
    };
    VK_CHECK_GOTO(vkCreateCommandPool(gpu->device, &pci, NULL, &gpu->xfer_pool), err, st);
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = gpu->xfer_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_CHECK_GOTO(vkAllocateCommandBuffers(gpu->device, &cai, &gpu->xfer_cmd), err, st);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK_GOTO(vkCreateFence(gpu->device, &fci, NULL, &gpu->xfer_fence), err, st);

    const char *sdir = getenv("RV_SHADER_DIR");
    if (sdir && *sdir)
        snprintf(gpu->shader_dir, sizeof(gpu->shader_dir), "%s", sdir);
    rv_tiles_choose(gpu);
    if (desc->pipeline_cache_dir && *desc->pipeline_cache_dir) {
        VkPhysicalDeviceProperties cp;
        vkGetPhysicalDeviceProperties(gpu->phys, &cp);
        rv_pipeline_cache_open(gpu, desc->pipeline_cache_dir, cp.pipelineCacheUUID, cp.driverVersion);
    }
    free(pds);
    *out = gpu;
    return RV_OK;
fail:
    free(pds);
    rv_gpu_destroy(gpu);
    return st;
}

void rv_gpu_destroy(rv_gpu *gpu)
{
    if (!gpu)
        return;
    if (gpu->device) {
        vkDeviceWaitIdle(gpu->device);
        rv_pipeline_cache_close(gpu);
        rv_pipelines_destroy(gpu);
        rv_memory_destroy(gpu);
        if (gpu->xfer_fence)
            vkDestroyFence(gpu->device, gpu->xfer_fence, NULL);
        if (gpu->xfer_pool)
            vkDestroyCommandPool(gpu->device, gpu->xfer_pool, NULL);
        vkDestroyDevice(gpu->device, NULL);
    }
    if (gpu->messenger)
        vkDestroyDebugUtilsMessengerEXT(gpu->instance, gpu->messenger, NULL);
    if (gpu->instance)
        vkDestroyInstance(gpu->instance, NULL);
    free(gpu);
}

const rv_device_info *rv_gpu_info(const rv_gpu *gpu) { return &gpu->info; }
int rv_gpu_device_index(const rv_gpu *gpu) { return gpu->device_index; }
rv_dtype rv_gpu_dtype(const rv_gpu *gpu) { return gpu->dtype; }
int rv_gpu_validation_count(const rv_gpu *gpu) { return gpu->validation_messages; }
const rv_error *rv_gpu_error(const rv_gpu *gpu) { return &gpu->err; }
void rv_gpu_clear_error(rv_gpu *gpu) { rv_error_clear(&gpu->err); }
