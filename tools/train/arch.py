"""The shipped model's architecture: diffusers/transformers config dicts for
reverie-tiny's text encoder, UNet, tiny autoencoder and scheduler, and the
model_index.json. Sizes were picked with tools/flops.py against the budget
(all weights <= 16 MB in fp16; 1 UNet step + decoder at 256x256 <= 4 GFLOP);
see models/reverie-tiny/README.md for the figures. Not the training code.
"""

NAME = "reverie-tiny"

# Specials sit after the byte symbols and merges, as in CLIP's vocab.json.
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"

# The image size the model ships at; the autoencoder is 8x (TAESD's 3
# upsamplings), so 256x256 images are 32x32x4 latents.
IMAGE_SIZE = 256
LATENT_FACTOR = 8
LATENT_CHANNELS = 4

TEXT_HIDDEN = 128


def text_encoder_config(vocab_size):
    """transformers CLIPTextConfig: 3 layers of width 128, 4 heads."""
    return {
        "architectures": ["CLIPTextModel"],
        "model_type": "clip_text_model",
        "vocab_size": vocab_size,
        "hidden_size": TEXT_HIDDEN,
        "intermediate_size": 4 * TEXT_HIDDEN,
        "projection_dim": TEXT_HIDDEN,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "attention_dropout": 0.0,
        "dropout": 0.0,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "bos_token_id": vocab_size - 2,
        "eos_token_id": vocab_size - 1,
        "pad_token_id": vocab_size - 1,
        "torch_dtype": "float32",
        "transformers_version": "4.30.0",
    }


def unet_config():
    """UNet2DConditionModel, SD 2.x style (linear projections), 3 levels
    [32, 64, 128], one resnet per down level, cross-attention at the two
    lower resolutions and in the mid block; head width 32."""
    return {
        "_class_name": "UNet2DConditionModel",
        "_diffusers_version": "0.27.0",
        "sample_size": IMAGE_SIZE // LATENT_FACTOR,
        "in_channels": LATENT_CHANNELS,
        "out_channels": LATENT_CHANNELS,
        "center_input_sample": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "only_cross_attention": False,
        "block_out_channels": [32, 64, 128],
        "layers_per_block": 1,
        "downsample_padding": 1,
        "mid_block_scale_factor": 1,
        "dropout": 0.0,
        "act_fn": "silu",
        "norm_num_groups": 8,
        "norm_eps": 1e-5,
        "cross_attention_dim": TEXT_HIDDEN,
        "transformer_layers_per_block": 1,
        "attention_head_dim": [1, 2, 4],
        "dual_cross_attention": False,
        "use_linear_projection": True,
        "class_embed_type": None,
        "num_class_embeds": None,
        "upcast_attention": False,
        "resnet_time_scale_shift": "default",
        "conv_in_kernel": 3,
        "conv_out_kernel": 3,
        "time_cond_proj_dim": None,
    }


def _vae(decoder_width, decoder_blocks, scaling_factor):
    return {
        "_class_name": "AutoencoderTiny",
        "_diffusers_version": "0.27.0",
        "in_channels": 3,
        "out_channels": 3,
        "encoder_block_out_channels": [32, 32, 32, 32],
        "decoder_block_out_channels": [decoder_width] * 4,
        "num_encoder_blocks": [1, 1, 1, 1],
        "num_decoder_blocks": list(decoder_blocks),
        "act_fn": "relu",
        "upsample_fn": "nearest",
        "upsampling_scaling_factor": 2,
        "latent_channels": LATENT_CHANNELS,
        "latent_magnitude": 3,
        "latent_shift": 0.5,
        "force_upcast": False,
        "scaling_factor": scaling_factor,
        "shift_factor": 0.0,
    }


def vae_config(scaling_factor=1.0):
    """The shipped AutoencoderTiny (TAESD layout): 8x, 4 latent channels;
    encoder 32 wide with one block per level; decoder 16 wide with blocks
    [3, 3, 2, 1]. A TAESD decoder spends its FLOPs at full resolution (a 3x3
    conv of width c at 256x256 is 1.2 (c/32)^2 GFLOP), so it is narrow and
    keeps one block there."""
    return _vae(16, (3, 3, 2, 1), scaling_factor)


def vae_config_joint(scaling_factor=1.0):
    """The autoencoder of the first phase (encoder and decoder trained
    together): the shipped encoder with a wider decoder, [2, 2, 1, 0] at
    width 24. Its encoder defines the latent space; the shipped decoder is
    then trained on the frozen encoder (train_ae.py --phase decoder)."""
    return _vae(24, (2, 2, 1, 0), scaling_factor)


def scheduler_config(class_name="EulerDiscreteScheduler"):
    """SD-Turbo's scheduler (Euler, trailing spacing, SD's scaled_linear
    betas) with v-prediction: x0 = sqrt(a) x - sqrt(1-a) v stays well
    conditioned at t=999, where an epsilon model's x0 = (x - sqrt(1-a) eps) /
    sqrt(a) multiplies its error by ~15 -- the step a 1-step model lives on."""
    cfg = {
        "_class_name": class_name,
        "_diffusers_version": "0.27.0",
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "trained_betas": None,
        "prediction_type": "v_prediction",
        "timestep_spacing": "trailing",
        "steps_offset": 1,
        "rescale_betas_zero_snr": False,
        "clip_sample": False,
        "set_alpha_to_one": False,
    }
    if class_name == "EulerDiscreteScheduler":
        cfg.update({"interpolation_type": "linear", "use_karras_sigmas": False, "skip_prk_steps": True})
    return cfg


def model_index():
    return {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.27.0",
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderTiny"],
    }


def configs(vocab_size):
    """Component configs keyed as tools/flops.report wants them."""
    return {"text_encoder": text_encoder_config(vocab_size), "unet": unet_config(), "vae": vae_config()}
