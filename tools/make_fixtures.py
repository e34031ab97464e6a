#!/usr/bin/python3
"""Writes the small random-weight model folders and golden tensors under
tests/fixtures/ (tiny-sd15, tiny-sd21, schedulers.json, safetensors/) with the
project's PyTorch reference (tools/reverie_ref). Deterministic: fixed seeds.
Not a training script; run it only when the reference or a case changes:

    /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures] [--shared ../shared]

Needs Debian's python3-torch, python3-numpy and python3-regex (the tokenizer).
"""

import argparse
import copy
import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import safetensors_io as st  # noqa: E402
from reverie_ref.autoencoder_kl import AutoencoderKL  # noqa: E402
from reverie_ref.autoencoder_tiny import AutoencoderTiny  # noqa: E402
from reverie_ref.clip_text import CLIPTextModel  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline, save_pipeline  # noqa: E402
from reverie_ref.pipeline import image_to_image, img2img_start, text_to_image  # noqa: E402
from reverie_ref.schedulers import EulerDiscreteScheduler, LCMScheduler, make_scheduler  # noqa: E402
from reverie_ref.unet import UNet2DConditionModel, timestep_embedding  # noqa: E402

MAX_TAP_ELEMENTS = 16384  # keeps goldens small: big decoder activations are left out

PROMPT_A = "a photograph of an astronaut riding a horse"
PROMPT_B = "a red cube on a blue sphere, studio lighting"

# ---------------------------------------------------------------- configs

SD15 = {
    "name": "tiny-sd15",
    "shared_tokenizer": "sd15",
    "about": "SD 1.5 block types and options, shrunk: conv proj_in/proj_out, one int head count "
             "(attention_head_dim 2), quick_gelu CLIP, 4-level VAE and TAESD (8x), LCM scheduler.",
    "model_index": {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.6.0",
        "feature_extractor": [None, None], "safety_checker": [None, None], "requires_safety_checker": False,
        "scheduler": ["diffusers", "LCMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "vae_tiny": ["diffusers", "AutoencoderTiny"],
    },
    "text_encoder": {
        "_name_or_path": "reverie/tiny-sd15", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0,
        "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 16,
        "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 2,
        "num_hidden_layers": 2, "pad_token_id": 1, "projection_dim": 16, "torch_dtype": "float32",
        "transformers_version": "4.22.0.dev0", "vocab_size": 49408,
    },
    "unet": {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
        "attention_head_dim": 2, "block_out_channels": [16, 32, 32], "center_input_sample": False,
        "cross_attention_dim": 16,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4,
        "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 8,
        "out_channels": 4, "sample_size": 8,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    },
    "vae": {  # like SD 1.5's: no scaling_factor key, so the default 0.18215 applies
        "_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu",
        "block_out_channels": [8, 16, 16, 16], "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 4, "out_channels": 3,
        "sample_size": 64, "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    "vae_tiny": {
        "_class_name": "AutoencoderTiny", "_diffusers_version": "0.20.0", "act_fn": "relu",
        "decoder_block_out_channels": [12, 12, 12, 12], "encoder_block_out_channels": [12, 12, 12, 12],
        "force_upcast": False, "in_channels": 3, "latent_channels": 4, "latent_magnitude": 3, "latent_shift": 0.5,
        "num_decoder_blocks": [2, 2, 2, 1], "num_encoder_blocks": [1, 2, 2, 2], "out_channels": 3,
        "scaling_factor": 1.0, "upsampling_scaling_factor": 2,
    },
    "scheduler": {
        "_class_name": "LCMScheduler", "_diffusers_version": "0.22.0", "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0,
        "dynamic_thresholding_ratio": 0.995, "num_train_timesteps": 1000, "original_inference_steps": 50,
        "prediction_type": "epsilon", "rescale_betas_zero_snr": False, "sample_max_value": 1.0,
        "set_alpha_to_one": True, "steps_offset": 1, "thresholding": False, "timestep_scaling": 10.0,
        "timestep_spacing": "leading", "trained_betas": None,
    },
    "guidance_scale": 7.5,
    "img2img": (4, 0.5),
    "shard_text_encoder": False,
    "variant": ("vae_tiny", "fp16", "F16"),
}

SD21 = {
    "name": "tiny-sd21",
    "shared_tokenizer": "sd21-base",
    "about": "SD 2.1 / SD-Turbo block types and options, shrunk: linear proj_in/proj_out, per-block head "
             "counts (attention_head_dim [2, 4, 8]; the mid block takes the last), gelu CLIP (sharded "
             "weights), 3-level VAE and TAESD (4x), Euler trailing scheduler as SD-Turbo.",
    "model_index": {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.10.0.dev0",
        "feature_extractor": [None, None], "safety_checker": [None, None], "requires_safety_checker": False,
        "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "vae_tiny": ["diffusers", "AutoencoderTiny"],
    },
    "text_encoder": {
        "_name_or_path": "reverie/tiny-sd21", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0,
        "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "gelu", "hidden_size": 8,
        "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 24, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 2,
        "num_hidden_layers": 3, "pad_token_id": 1, "projection_dim": 8, "torch_dtype": "float32",
        "transformers_version": "4.25.0.dev0", "vocab_size": 49408,
    },
    "unet": {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
        "attention_head_dim": [2, 4, 8], "block_out_channels": [16, 32, 32], "center_input_sample": False,
        "cross_attention_dim": 8,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1, "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0,
        "in_channels": 4, "layers_per_block": 1, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
        "norm_num_groups": 4, "num_class_embeds": None, "only_cross_attention": False, "out_channels": 4,
        "sample_size": 8, "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "use_linear_projection": True,
    },
    "vae": {
        "_class_name": "AutoencoderKL", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
        "block_out_channels": [8, 16, 16], "down_block_types": ["DownEncoderBlock2D"] * 3, "force_upcast": True,
        "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 4, "out_channels": 3,
        "sample_size": 32, "scaling_factor": 0.18215, "up_block_types": ["UpDecoderBlock2D"] * 3,
    },
    "vae_tiny": {
        "_class_name": "AutoencoderTiny", "_diffusers_version": "0.20.0", "act_fn": "relu",
        "decoder_block_out_channels": [8, 8, 8], "encoder_block_out_channels": [8, 8, 8],
        "force_upcast": False, "in_channels": 3, "latent_channels": 4, "latent_magnitude": 3, "latent_shift": 0.5,
        "num_decoder_blocks": [2, 1, 1], "num_encoder_blocks": [1, 1, 2], "out_channels": 3,
        "scaling_factor": 1.0, "upsampling_scaling_factor": 2,
    },
    "scheduler": {
        "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.24.0.dev0", "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
        "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0,
        "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "trailing",
        "trained_betas": None, "use_karras_sigmas": False,
    },
    "guidance_scale": 4.0,
    "img2img": (2, 0.5),
    "shard_text_encoder": True,
    "variant": ("vae_tiny", "bf16", "BF16"),
}

# ---------------------------------------------------------------- weights


def seed_of(*names):
    return zlib.crc32("/".join(names).encode()) & 0x7FFFFFFF


def exact_in_half_types(t):
    """Round to 8 significant bits (bfloat16) and flush |x| < 2^-14 to zero, so
    every value is exactly representable in float32, float16 and bfloat16: the
    F16/BF16 loading paths can then be checked bit-exactly against F32."""
    t = t.to(torch.bfloat16).to(torch.float32)
    t[t.abs() < 2.0 ** -14] = 0.0
    assert torch.equal(t.half().float(), t) and torch.equal(t.bfloat16().float(), t)
    return t


@torch.no_grad()
def init_weights(model, seed):
    """Random weights that keep activations O(1): conv/linear N(0, 1/fan_in),
    biases N(0, 0.1^2), norms' scales 1 + N(0, 0.25^2) and shifts N(0, 0.1^2),
    embeddings N(0, 0.5^2)."""
    g = torch.Generator().manual_seed(seed)
    for _, m in sorted(model.named_modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / fan_in ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
            m.weight.copy_(1.0 + 0.25 * torch.randn(m.weight.shape, generator=g))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        elif isinstance(m, nn.Embedding):
            m.weight.copy_(0.5 * torch.randn(m.weight.shape, generator=g))
    for p in model.parameters():
        p.copy_(exact_in_half_types(p))


def randn(shape, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return exact_in_half_types(torch.randn(shape, generator=g) * scale)


def rand_image(shape, seed):
    """Smooth gradients plus noise, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    yy = torch.linspace(-1, 1, h)[:, None].expand(h, w)
    xx = torch.linspace(-1, 1, w)[None, :].expand(h, w)
    base = torch.stack([xx, yy, xx * yy])[:c]
    img = 0.6 * base[None] + 0.4 * (2 * torch.rand((b, c, h, w), generator=g) - 1)
    return exact_in_half_types(img.clamp(-1, 1))


# ---------------------------------------------------------------- goldens


class Goldens:
    """Collects named tensors (float32 in the file) and case descriptions."""

    def __init__(self):
        self.tensors = {}
        self.cases = {}

    def add(self, name, t):
        """Keeps the computing dtype (float64 for the cross-check); saved as float32."""
        assert name not in self.tensors, name
        self.tensors[name] = t.detach().clone().contiguous()
        return name


def run_with_taps(model, names, fn):
    """Run fn() with forward hooks on model's submodules `names`; returns
    (result, {name: output tensor})."""
    taps, handles = {}, []
    modules = dict(model.named_modules())
    for n in names:
        def hook(_m, _i, out, n=n):
            taps[n] = out[0] if isinstance(out, tuple) else out
        handles.append(modules[n].register_forward_hook(hook))
    try:
        result = fn()
    finally:
        for h in handles:
            h.remove()
    return result, {n: v for n, v in taps.items() if v.numel() <= MAX_TAP_ELEMENTS}


def unet_tap_names(unet):
    names = ["time_embedding", "conv_in"]
    for i, b in enumerate(unet.down_blocks):
        names.append(f"down_blocks.{i}.resnets.0")
        if b.has_cross_attention:
            names += [f"down_blocks.{i}.attentions.0.proj_in",
                      f"down_blocks.{i}.attentions.0.transformer_blocks.0",
                      f"down_blocks.{i}.attentions.0"]
        names.append(f"down_blocks.{i}")
    names += ["mid_block.resnets.0", "mid_block.attentions.0", "mid_block"]
    names += [f"up_blocks.{i}" for i in range(len(unet.up_blocks))]
    names += ["conv_act"]
    return names


def make_cases(comp, spec, tok, dtype, g, ref=None):
    """Run every case with the components in `comp` (converted to dtype).
    Fills g (a Goldens); the same inputs are used whatever the dtype. ref: the
    float32 run's Goldens, whose stored UNet inputs the float64 run reuses so
    that fp64_check measures each component's own arithmetic."""
    te, unet, vae, tiny, sched_cfg = comp["text_encoder"], comp["unet"], comp["vae"], comp["vae_tiny"], \
        comp["scheduler_config"]
    name = spec["name"]
    hid = te.config["hidden_size"]
    ids_a = torch.tensor([tok(PROMPT_A)])
    ids_b2 = torch.tensor([tok(PROMPT_B), tok("")])
    ids_empty = torch.tensor([tok("")])

    def cast(t):
        return t.to(dtype)

    # --- text encoder
    out = te(ids_a)
    g.add("text_b1.last_hidden_state", out["last_hidden_state"])
    g.add("text_b1.pooler_output", out["pooler_output"])
    for i, h in enumerate(out["hidden_states"]):
        g.add(f"text_b1.hidden_states.{i}", h)
    g.add("text_b1.clip_skip_1", te.encode(ids_a, clip_skip=1))
    g.cases["text_b1"] = {
        "component": "text_encoder", "prompt": PROMPT_A, "input_ids": ids_a.tolist(),
        "outputs": {"last_hidden_state": "text_b1.last_hidden_state", "pooler_output": "text_b1.pooler_output",
                    "hidden_states": [f"text_b1.hidden_states.{i}" for i in range(len(out["hidden_states"]))],
                    "clip_skip_1": "text_b1.clip_skip_1"},
        "notes": "hidden_states[0] is the embeddings output, [k] layer k's output (no final norm). "
                 "clip_skip_1 = final_layer_norm(hidden_states[-2]), diffusers' clip_skip=1.",
    }
    out2 = te(ids_b2)
    g.add("text_b2.last_hidden_state", out2["last_hidden_state"])
    g.cases["text_b2"] = {"component": "text_encoder", "prompt": [PROMPT_B, ""], "input_ids": ids_b2.tolist(),
                          "outputs": {"last_hidden_state": "text_b2.last_hidden_state"}}

    # --- UNet
    ehs_a = out["last_hidden_state"].detach()
    unet_cases = [
        ("unet_b1_t999_8x8", (1, 4, 8, 8), [999.0], ehs_a, True),
        ("unet_b2_t500_8x12", (2, 4, 8, 12), [500.0, 500.0], out2["last_hidden_state"].detach(), False),
        ("unet_b1_t250_7x5", (1, 4, 7, 5), [250.0], ehs_a, False),
        ("unet_b2_tmixed_8x8", (2, 4, 8, 8), [999.0, float(np.float32(1000 / 3))],
         cast(randn((2, 77, hid), seed_of(name, "ehs_d"))), False),
    ]
    for cname, shape, ts, ehs, tap in unet_cases:
        x = cast(randn(shape, seed_of(name, cname, "x")))
        if ref is not None:
            ehs = ref.tensors[f"{cname}.encoder_hidden_states"].to(dtype)
        t = torch.tensor(ts, dtype=torch.float32)
        t_arg = t[0] if len(set(ts)) == 1 and shape[0] == 1 else t
        if tap:
            y, taps = run_with_taps(unet, unet_tap_names(unet), lambda: unet(x, t_arg, ehs))
        else:
            y, taps = unet(x, t_arg, ehs), {}
        g.add(f"{cname}.sample", x)
        g.add(f"{cname}.timestep", t)
        g.add(f"{cname}.encoder_hidden_states", ehs)
        g.add(f"{cname}.out", y)
        case = {"component": "unet", "timesteps": ts,
                "inputs": {"sample": f"{cname}.sample", "timestep": f"{cname}.timestep",
                           "encoder_hidden_states": f"{cname}.encoder_hidden_states"},
                "outputs": {"sample": f"{cname}.out"}}
        if tap:
            t_emb = timestep_embedding(t, unet.time_proj_dim, unet.config["flip_sin_to_cos"],
                                       unet.config["freq_shift"],
                                       dtype=torch.float64 if dtype == torch.float64 else torch.float32)
            case["taps"] = {"time_proj": g.add(f"{cname}.tap.time_proj", t_emb)}
            for tn, tv in taps.items():
                case["taps"][tn] = g.add(f"{cname}.tap.{tn}", tv)
            case["notes"] = ("taps: time_proj is the sinusoidal embedding [B, C0]; a block's tap is its "
                             "output (down blocks: the hidden state, not the skips); transformer_blocks.0 "
                             "is [B, H*W, C] tokens; conv_act is the input of conv_out.")
        g.cases[cname] = case

    # --- autoencoders
    for comp_name, model in (("vae", vae), ("taesd", tiny)):
        ff = model.scale_factor
        img = cast(rand_image((1, 3, 8 * ff, 12 * ff), seed_of(name, comp_name, "img")))
        lat = cast(randn((1, 4, 8, 12), seed_of(name, comp_name, "lat")))
        enc_taps, dec_taps = {}, {}
        if comp_name == "vae":
            enc_names = [f"encoder.down_blocks.{i}" for i in range(len(model.encoder.down_blocks))] + \
                        ["encoder.mid_block"]
            (mean, logvar), enc_taps = run_with_taps(model, enc_names, lambda: model.encode_moments(img))
            g.add("vae_encode.mean", mean)
            g.add("vae_encode.logvar", logvar)
            latents = model.scale_latents(mean)
            dec_names = ["post_quant_conv", "decoder.conv_in", "decoder.mid_block"] + \
                        [f"decoder.up_blocks.{i}" for i in range(len(model.decoder.up_blocks))]
            image, dec_taps = run_with_taps(model, dec_names, lambda: model.decode(model.unscale_latents(lat)))
        else:
            latents = model.scale_latents(model.encode(img))
            image = model.decode(model.unscale_latents(lat))
        e, d = f"{comp_name}_encode", f"{comp_name}_decode"
        g.add(f"{e}.image", img)
        g.add(f"{e}.latents", latents)
        g.add(f"{d}.latents", lat)
        g.add(f"{d}.image", image)
        g.cases[e] = {"component": "vae" if comp_name == "vae" else "vae_tiny",
                      "inputs": {"image": f"{e}.image"}, "outputs": {"latents": f"{e}.latents"},
                      "notes": "image in [-1,1]; latents = pipeline latents (scaled by scaling_factor); "
                               + ("AutoencoderKL: the posterior mean, also given unscaled as vae_encode.mean, "
                                  "with the clamped logvar" if comp_name == "vae" else
                                  "AutoencoderTiny: encoder output times scaling_factor")}
        if comp_name == "vae":
            g.cases[e]["outputs"].update({"mean": "vae_encode.mean", "logvar": "vae_encode.logvar"})
        g.cases[d] = {"component": "vae" if comp_name == "vae" else "vae_tiny",
                      "inputs": {"latents": f"{d}.latents"}, "outputs": {"image": f"{d}.image"},
                      "notes": "decode(latents / scaling_factor); the raw decoder output, not clamped"}
        for tn, tv in list(enc_taps.items()):
            g.cases[e].setdefault("taps", {})[tn] = g.add(f"{e}.tap.{tn}", tv)
        for tn, tv in list(dec_taps.items()):
            g.cases[d].setdefault("taps", {})[tn] = g.add(f"{d}.tap.{tn}", tv)

    # --- full generation
    gen_cases = [("gen_1step", 1, 0.0), ("gen_1step_cfg", 1, spec["guidance_scale"]), ("gen_2step", 2, 0.0)]
    for cname, steps, gs in gen_cases:
        noise = cast(randn((1, 4, 8, 12), seed_of(name, "gen_noise")))
        step_noises = [cast(randn((1, 4, 8, 12), seed_of(name, cname, "step_noise", str(i))))
                       for i in range(steps - 1)]
        sched = make_scheduler(sched_cfg)
        neg = ids_empty if gs > 1 else None
        res = text_to_image(unet, te, sched, vae, ids_a, noise, steps, guidance_scale=gs, negative_ids=neg,
                            step_noises=step_noises if isinstance(sched, LCMScheduler) else None,
                            return_intermediates=True)
        img_tiny = tiny.decode(tiny.unscale_latents(res["latents"]))
        g.add(f"{cname}.noise", noise)
        g.add(f"{cname}.prompt_embeds", res["prompt_embeds"])
        g.add(f"{cname}.latents", res["latents"])
        g.add(f"{cname}.image_vae", res["image"])
        g.add(f"{cname}.image_taesd", img_tiny)
        case = {"component": "pipeline", "prompt": PROMPT_A, "input_ids": ids_a.tolist(),
                "negative_prompt": "" if neg is not None else None,
                "negative_input_ids": neg.tolist() if neg is not None else None,
                "num_inference_steps": steps, "guidance_scale": gs,
                "timesteps": [float(s["t"]) for s in res["steps"]],
                "inputs": {"noise": f"{cname}.noise"},
                "outputs": {"prompt_embeds": f"{cname}.prompt_embeds", "latents": f"{cname}.latents",
                            "image_vae": f"{cname}.image_vae", "image_taesd": f"{cname}.image_taesd"},
                "steps": []}
        if isinstance(sched, LCMScheduler):
            case["inputs"]["step_noises"] = [g.add(f"{cname}.step_noise.{i}", n) for i, n in enumerate(step_noises)]
        for i, s in enumerate(res["steps"]):
            case["steps"].append({
                "timestep": float(s["t"]),
                "model_input": g.add(f"{cname}.step{i}.model_input", s["model_input"]),
                "model_output": g.add(f"{cname}.step{i}.model_output", s["model_output"]),
                "latents": g.add(f"{cname}.step{i}.latents", s["latents"])})
        case["notes"] = ("latents_0 = noise * init_noise_sigma; each step: model_input = scale_model_input("
                         "cat([latents]*2) with guidance), model_output = guided UNet output, latents = "
                         "scheduler step. Guidance batch order is [negative, prompt]. image_* are raw decoder "
                         "outputs in about [-1,1] of decode(latents / scaling_factor); the PNG is "
                         "round(clamp(x/2+0.5, 0, 1)*255).")
        g.cases[cname] = case

    # --- image-to-image from latents (the frame loop's re-noise + denoise)
    cname = "img2img"
    steps, strength = spec["img2img"]
    sched = make_scheduler(sched_cfg)
    first = img2img_start(steps, strength)
    init = cast(randn((1, 4, 8, 12), seed_of(name, cname, "init")))
    noise = cast(randn((1, 4, 8, 12), seed_of(name, cname, "noise")))
    step_noises = [cast(randn((1, 4, 8, 12), seed_of(name, cname, "step_noise", str(i))))
                   for i in range(steps - first - 1)] if isinstance(sched, LCMScheduler) else None
    res = image_to_image(unet, te, sched, vae, ids_a, init, noise, steps, strength, step_noises=step_noises,
                         return_intermediates=True)
    g.add(f"{cname}.init_latents", init)
    g.add(f"{cname}.noise", noise)
    g.add(f"{cname}.latents", res["latents"])
    g.add(f"{cname}.image_vae", res["image"])
    g.add(f"{cname}.image_taesd", tiny.decode(tiny.unscale_latents(res["latents"])))
    case = {"component": "pipeline_img2img", "prompt": PROMPT_A, "input_ids": ids_a.tolist(),
            "num_inference_steps": steps, "strength": strength, "first_step": first, "guidance_scale": 0.0,
            "timesteps": [float(s["t"]) for s in res["steps"]],
            "inputs": {"init_latents": f"{cname}.init_latents", "noise": f"{cname}.noise"},
            "outputs": {"latents": f"{cname}.latents", "image_vae": f"{cname}.image_vae",
                        "image_taesd": f"{cname}.image_taesd"},
            "steps": [],
            "notes": "StableDiffusionImg2ImgPipeline from latents: the num_inference_steps schedule is cut to "
                     "its last int(steps*strength) steps (first_step = steps - that); latents = "
                     "scheduler.add_noise(init_latents, noise, timesteps[first_step]) (Euler: init + "
                     "sigmas[first_step]*noise, no init_noise_sigma; LCM: sqrt(a)*init + sqrt(1-a)*noise), "
                     "then the steps as in gen_*."}
    if step_noises:
        case["inputs"]["step_noises"] = [g.add(f"{cname}.step_noise.{i}", n) for i, n in enumerate(step_noises)]
    for i, s in enumerate(res["steps"]):
        case["steps"].append({
            "timestep": float(s["t"]),
            "model_input": g.add(f"{cname}.step{i}.model_input", s["model_input"]),
            "model_output": g.add(f"{cname}.step{i}.model_output", s["model_output"]),
            "latents": g.add(f"{cname}.step{i}.latents", s["latents"])})
    g.cases[cname] = case


def nmse(ref, x):
    ref, x = ref.double(), x.double()
    den = (ref * ref).sum().item()
    return (((x - ref) ** 2).sum().item() / den) if den > 0 else float((x - ref).abs().max().item())


def build_models(spec, seed_base):
    te = CLIPTextModel(spec["text_encoder"])
    unet = UNet2DConditionModel(spec["unet"])
    vae = AutoencoderKL(spec["vae"])
    tiny = AutoencoderTiny(spec["vae_tiny"])
    for n, m in (("text_encoder", te), ("unet", unet), ("vae", vae), ("vae_tiny", tiny)):
        init_weights(m, seed_of(seed_base, n))
        m.eval()
    return {"text_encoder": te, "unet": unet, "vae": vae, "vae_tiny": tiny}


def write_fixture(spec, out_root, shared):
    name = spec["name"]
    folder = os.path.join(out_root, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    torch.manual_seed(0)
    models = build_models(spec, name)

    # --- the diffusers folder
    te_bytes = sum(p.numel() * 4 for p in models["text_encoder"].parameters())
    save_pipeline(folder, spec["model_index"], {c: (models[c], spec[c]) for c in models},
                  scheduler_config=spec["scheduler"],
                  tokenizer_dir=os.path.join(shared, "models", spec["shared_tokenizer"], "tokenizer"),
                  shard_bytes={"text_encoder": te_bytes // 2 + 1} if spec["shard_text_encoder"] else None)
    comp, variant, vdtype = spec["variant"]
    st.save(os.path.join(folder, comp, f"diffusion_pytorch_model.{variant}.safetensors"),
            models[comp].state_dict(), dtype=vdtype)

    # --- reload through the folder loader, so goldens come from what was written
    comp32 = load_pipeline(folder, torch.float32)
    for c in ("text_encoder", "unet", "vae", "vae_tiny"):
        for (k, a), b in zip(models[c].state_dict().items(), comp32[c].state_dict().values()):
            assert torch.equal(a, b), f"{name}/{c}: {k} changed on reload"
    tok = comp32["tokenizer"]
    comp32["scheduler_config"] = spec["scheduler"]
    g32 = Goldens()
    with torch.no_grad():
        make_cases(comp32, spec, tok, torch.float32, g32)

    # --- the same in float64, to measure float32's own error
    comp64 = {c: copy.deepcopy(v).to(torch.float64) if isinstance(v, nn.Module) else v for c, v in comp32.items()}
    g64 = Goldens()
    with torch.no_grad():
        make_cases(comp64, spec, tok, torch.float64, g64, ref=g32)
    check = {}
    worst = 0.0
    for k, v in g32.tensors.items():
        ref = g64.tensors[k]
        e = nmse(ref, v)
        check[k] = {"max_abs_diff": float((ref.double() - v.double()).abs().max()), "nmse": e,
                    "max_abs": float(ref.abs().max())}
        worst = max(worst, e)

    st.save(os.path.join(folder, "goldens.safetensors"), {k: v.float() for k, v in g32.tensors.items()},
            metadata={"format": "pt", "generator": "tools/make_fixtures.py"})
    doc = {
        "about": spec["about"] + " Golden tensors (float32) computed with tools/reverie_ref in float32; "
                 "fp64_check gives each tensor's difference from the same computation in float64.",
        "generator": "tools/make_fixtures.py",
        "file": "goldens.safetensors",
        "scheduler": scheduler_table(spec["scheduler"]),
        "cases": g32.cases,
        "tensors": {k: list(v.shape) for k, v in g32.tensors.items()},
        "fp64_check": check,
    }
    with open(os.path.join(folder, "goldens.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    return g32, check, worst


def scheduler_table(cfg, steps=(1, 2, 3, 4)):
    out = {}
    for n in steps:
        s = make_scheduler(cfg)
        ts = s.set_timesteps(n)
        row = {"timesteps": [float(t) for t in ts], "init_noise_sigma": float(s.init_noise_sigma)}
        if isinstance(s, EulerDiscreteScheduler):
            row["sigmas"] = [float(x) for x in s.sigmas]
        else:
            a = s.alphas_cumprod
            row["alphas_cumprod"] = [float(a[t]) for t in ts]
            row["c_skip"] = [float(s.boundary_scalings(t)[0]) for t in ts]
            row["c_out"] = [float(s.boundary_scalings(t)[1]) for t in ts]
            row["final_alpha_cumprod"] = float(s.final_alpha_cumprod)
        out[str(n)] = row
    return out


def write_scheduler_fixture(path):
    """Timesteps/sigmas for a set of configs, and one step per config on small
    fixed arrays, for the C schedulers."""
    base = {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
            "num_train_timesteps": 1000, "steps_offset": 1}
    configs = []
    for spacing in ("leading", "linspace", "trailing"):
        for pred in ("epsilon", "v_prediction"):
            configs.append(dict(base, _class_name="EulerDiscreteScheduler", timestep_spacing=spacing,
                                prediction_type=pred))
    configs.append(dict(base, _class_name="EulerDiscreteScheduler", timestep_spacing="trailing",
                        prediction_type="epsilon", beta_schedule="linear", beta_start=0.0001, beta_end=0.02))
    configs.append(dict(SD15["scheduler"]))
    configs.append(dict(SD15["scheduler"], prediction_type="v_prediction", original_inference_steps=8))
    g = torch.Generator().manual_seed(1234)
    sample = exact_in_half_types(torch.randn((1, 2, 2, 3), generator=g))
    model_out = exact_in_half_types(torch.randn((1, 2, 2, 3), generator=g))
    noise = exact_in_half_types(torch.randn((1, 2, 2, 3), generator=g))
    entries = []
    for cfg in configs:
        entry = {"config": cfg, "steps": {}}
        for n in (1, 2, 4, 8):
            s = make_scheduler(cfg)
            s.set_timesteps(n)
            row = {"timesteps": [float(t) for t in s.timesteps], "init_noise_sigma": float(s.init_noise_sigma)}
            if isinstance(s, EulerDiscreteScheduler):
                row["sigmas"] = [float(x) for x in s.sigmas]
            # one step at index 0 (and index n-1, the last) on the fixed arrays
            for idx in sorted({0, n - 1}):
                x_in = s.scale_model_input(sample, idx)
                if isinstance(s, LCMScheduler):
                    prev, x0 = s.step(model_out, idx, sample, noise=noise if idx != n - 1 else None)
                else:
                    prev, x0 = s.step(model_out, idx, sample)
                row[f"step{idx}"] = {"scaled_model_input": x_in.flatten().tolist(),
                                     "prev_sample": prev.flatten().tolist(),
                                     "pred_original_sample": x0.flatten().tolist()}
            entry["steps"][str(n)] = row
        entries.append(entry)
    doc = {"about": "Scheduler timesteps, sigmas and single steps as diffusers computes them (float32), "
                    "from tools/make_fixtures.py. step<i>: step i of the n-step schedule applied to the fixed "
                    "arrays below (LCM steps before the last also add `noise`).",
           "arrays": {"shape": [1, 2, 2, 3], "sample": sample.flatten().tolist(),
                      "model_output": model_out.flatten().tolist(), "noise": noise.flatten().tolist()},
           "schedulers": entries}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def write_safetensors_fixture(folder):
    """Tiny files for the loader: every float dtype, a scalar, an empty tensor,
    and a two-shard set with its index."""
    os.makedirs(folder, exist_ok=True)
    vals = [0.0, -0.0, 1.0, -2.5, 0.333251953125, 65504.0, 2.0 ** -14, 2.0 ** -24, 3.0e-5, -1.0e3]
    f32 = torch.tensor(vals, dtype=torch.float32).reshape(2, 5)
    tensors = {"f32": f32, "f16": f32.half(), "bf16": torch.tensor(vals[:4] + [1.5, 3.0], dtype=torch.bfloat16),
               "scalar": torch.tensor(7.25), "empty": torch.zeros((0, 3)), "i64": torch.tensor([1, -2, 3])}
    st.save(os.path.join(folder, "dtypes.safetensors"), tensors)
    expected = {k: {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                              torch.int64: "I64"}[v.dtype],
                    "shape": list(v.shape), "values": v.float().flatten().tolist() if v.is_floating_point()
                    else v.flatten().tolist()} for k, v in tensors.items()}
    g = torch.Generator().manual_seed(99)
    shard_tensors = {f"layers.{i}.weight": exact_in_half_types(torch.randn((3, 4), generator=g)) for i in range(4)}
    st.save_sharded(folder, "model.safetensors", shard_tensors, max_shard_bytes=100)
    doc = {"about": "dtypes.safetensors holds these tensors (values as float64 of the stored value); "
                    "model.safetensors.index.json + model-0000K-of-00002.safetensors is a sharded set "
                    "whose tensors equal sharded_values.",
           "dtypes": expected,
           "sharded_values": {k: v.flatten().tolist() for k, v in shard_tensors.items()}}
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"))
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    for spec in (SD15, SD21):
        g, check, worst = write_fixture(spec, args.out, args.shared)
        big = max(check, key=lambda k: check[k]["max_abs_diff"])
        print(f"{spec['name']}: {len(g.tensors)} golden tensors; float32 vs float64: worst NMSE {worst:.3e}, "
              f"largest abs diff {check[big]['max_abs_diff']:.3e} ({big}, |max| {check[big]['max_abs']:.3g})")
    write_scheduler_fixture(os.path.join(args.out, "schedulers.json"))
    write_safetensors_fixture(os.path.join(args.out, "safetensors"))
    print("schedulers.json, safetensors/ written")


if __name__ == "__main__":
    main()
