"""Text-to-image and image-to-image (from latents) as diffusers'
StableDiffusionPipeline / StableDiffusionImg2ImgPipeline compute them, with
every random input given explicitly (initial noise, LCM's per-step noise) and
prompts given as token ids. Not image encoding for img2img, not safety checking.
"""

import torch

from .autoencoder_tiny import AutoencoderTiny
from .schedulers import EulerDiscreteScheduler, LCMScheduler
from .unet import guidance_scale_embedding


def encode_prompt(text_encoder, ids, clip_skip=None):
    """ids: [B, S] long tensor -> prompt embeddings [B, S, D]."""
    return text_encoder.encode(ids, clip_skip=clip_skip)


def decode_latents(decoder, latents):
    """Pipeline latents -> image in about [-1, 1]: decoder.decode(latents / scaling_factor)."""
    return decoder.decode(decoder.unscale_latents(latents))


def to_unit_range(image):
    """diffusers' postprocess denormalisation: (x / 2 + 0.5).clamp(0, 1)."""
    return (image / 2 + 0.5).clamp(0, 1)


def to_uint8(image):
    """[B,3,H,W] in [-1,1] -> [B,H,W,3] uint8, as numpy_to_pil rounds."""
    x = to_unit_range(image).permute(0, 2, 3, 1)
    return (x * 255).round().to(torch.uint8)


def _prepare(unet, text_encoder, ids, guidance_scale, negative_ids, clip_skip, prompt_embeds=None):
    dtype = next(unet.parameters()).dtype
    if prompt_embeds is None:
        prompt_embeds = encode_prompt(text_encoder, ids, clip_skip)
    prompt_embeds = prompt_embeds.to(dtype)
    cond_dim = unet.config["time_cond_proj_dim"]
    do_cfg = guidance_scale > 1 and cond_dim is None
    if do_cfg:
        if negative_ids is None:
            raise ValueError("guidance needs negative_ids (the ids of \"\" for diffusers' default)")
        # diffusers encodes the negative prompt without clip_skip
        neg = encode_prompt(text_encoder, negative_ids, None).to(dtype)
        embeds = torch.cat([neg, prompt_embeds])
    else:
        embeds = prompt_embeds
    timestep_cond = None
    if cond_dim is not None:
        w = torch.tensor(guidance_scale - 1).repeat(prompt_embeds.shape[0])
        timestep_cond = guidance_scale_embedding(w, cond_dim).to(dtype)
    return dtype, prompt_embeds, embeds, do_cfg, timestep_cond


def _denoise(unet, scheduler, embeds, latents, first, do_cfg, guidance_scale, timestep_cond, step_noises, steps):
    """Steps first .. end of scheduler.timesteps; indices are absolute, as
    diffusers' step_index after set_begin_index(first)."""
    for i in range(first, len(scheduler.timesteps)):
        t = scheduler.timesteps[i]
        model_in = torch.cat([latents] * 2) if do_cfg else latents
        model_in = scheduler.scale_model_input(model_in, i)
        pred = unet(model_in, t, embeds, timestep_cond=timestep_cond)
        if do_cfg:
            uncond, text = pred.chunk(2)
            pred = uncond + guidance_scale * (text - uncond)
        if isinstance(scheduler, LCMScheduler):
            last = i == len(scheduler.timesteps) - 1
            latents, _ = scheduler.step(pred, i, latents, noise=None if last else step_noises[i - first])
        elif isinstance(scheduler, EulerDiscreteScheduler):
            latents, _ = scheduler.step(pred, i, latents)
        else:
            raise ValueError(f"unsupported scheduler {type(scheduler).__name__}")
        if steps is not None:
            steps.append({"t": t, "model_input": model_in, "model_output": pred, "latents": latents})
    return latents


@torch.no_grad()
def text_to_image(unet, text_encoder, scheduler, decoder, ids, noise, num_steps, guidance_scale=0.0,
                  negative_ids=None, clip_skip=None, step_noises=None, return_intermediates=False,
                  prompt_embeds=None):
    """Generate latents and an image.

    ids, negative_ids: [B, S] token ids (negative defaults to none: the caller
    passes the ids of "" when it wants diffusers' default negative prompt).
    noise: [B, C, h, w] standard normal; it is multiplied by
    scheduler.init_noise_sigma. step_noises: LCM only, a list of num_steps-1
    tensors like noise (the noise each step but the last adds).
    Classifier-free guidance runs when guidance_scale > 1 and the UNet has no
    time_cond_proj_dim, exactly diffusers' condition.
    decoder: AutoencoderKL or AutoencoderTiny, or None to skip decoding.
    prompt_embeds: [B, S, D] used instead of encoding ids (ids may then be
    None), e.g. a blend of several prompts' embeddings (frames.py).
    Returns dict(latents, image, prompt_embeds[, steps])."""
    dtype, prompt_embeds, embeds, do_cfg, cond = _prepare(unet, text_encoder, ids, guidance_scale, negative_ids,
                                                          clip_skip, prompt_embeds)
    scheduler.set_timesteps(num_steps)
    latents = noise.to(dtype) * scheduler.init_noise_sigma
    steps = [] if return_intermediates else None
    latents = _denoise(unet, scheduler, embeds, latents, 0, do_cfg, guidance_scale, cond, step_noises, steps)
    # LCM pipelines decode `denoised`; at the last step it equals prev_sample
    image = decode_latents(decoder, latents) if decoder is not None else None
    out = {"latents": latents, "image": image, "prompt_embeds": prompt_embeds}
    if return_intermediates:
        out["steps"] = steps
    return out


def img2img_start(num_steps, strength):
    """diffusers' get_timesteps: index of the first step run for a strength."""
    init = min(int(num_steps * strength), num_steps)
    start = max(num_steps - init, 0)
    if start >= num_steps:
        raise ValueError(f"strength {strength} with {num_steps} steps leaves no step to run")
    return start


@torch.no_grad()
def image_to_image(unet, text_encoder, scheduler, decoder, ids, init_latents, noise, num_steps, strength,
                   guidance_scale=0.0, negative_ids=None, clip_skip=None, step_noises=None,
                   return_intermediates=False, prompt_embeds=None):
    """StableDiffusionImg2ImgPipeline from given (already scaled) latents: the
    schedule of num_steps is cut to its last int(num_steps * strength) steps,
    init_latents are noised to the first of them with scheduler.add_noise
    (Euler: x + sigma * noise; LCM: sqrt(a) x + sqrt(1 - a) noise), then
    denoised as in text_to_image. step_noises (LCM): one per step run but the last.
    prompt_embeds: as in text_to_image."""
    dtype, prompt_embeds, embeds, do_cfg, cond = _prepare(unet, text_encoder, ids, guidance_scale, negative_ids,
                                                          clip_skip, prompt_embeds)
    timesteps = scheduler.set_timesteps(num_steps)
    first = img2img_start(num_steps, strength)
    init_latents, noise = init_latents.to(dtype), noise.to(dtype)
    if isinstance(scheduler, LCMScheduler):
        latents = scheduler.add_noise(init_latents, noise, timesteps[first])
    else:
        latents = scheduler.add_noise(init_latents, noise, first)
    steps = [] if return_intermediates else None
    latents = _denoise(unet, scheduler, embeds, latents, first, do_cfg, guidance_scale, cond, step_noises, steps)
    image = decode_latents(decoder, latents) if decoder is not None else None
    out = {"latents": latents, "image": image, "prompt_embeds": prompt_embeds, "first_step": first}
    if return_intermediates:
        out["steps"] = steps
    return out


def is_tiny(decoder):
    return isinstance(decoder, AutoencoderTiny)
