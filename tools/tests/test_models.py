"""Model structure of the reference: real SD 1.5 / 2.1 parameter counts and
names, head-count semantics, shapes through each block, batching, autograd,
legacy checkpoint names, refusal of unsupported configs."""

import copy
import os
import unittest

import torch

from tests.common import model_config
from reverie_ref import (AutoencoderKL, AutoencoderTiny, CLIPTextModel, UNet2DConditionModel, count_parameters,
                         no_init)
from reverie_ref.diffusers_folder import LoadError, convert_legacy_names, load_weights_into

# Public figures (diffusers/transformers parameter counts quoted for SD 1.5:
# UNet 859,520,964, CLIP ViT-L/14 text 123,060,480, VAE 83,653,863; SD 2.x:
# UNet 865,910,724, OpenCLIP-H text (23 layers) 340,387,840).
COUNTS = {
    ("sd15", "unet"): 859_520_964,
    ("sd15", "text_encoder"): 123_060_480,
    ("sd15", "vae"): 83_653_863,
    ("sd21-base", "unet"): 865_910_724,
    ("sd21-base", "text_encoder"): 340_387_840,
    ("sd21-base", "vae"): 83_653_863,
}
BUILDERS = {"unet": UNet2DConditionModel, "text_encoder": CLIPTextModel, "vae": AutoencoderKL}

TINY_UNET = {
    "attention_head_dim": 2, "block_out_channels": [16, 32, 32], "cross_attention_dim": 12,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 8,
}
TINY_CLIP = {"hidden_size": 12, "intermediate_size": 20, "num_hidden_layers": 2, "num_attention_heads": 3,
             "vocab_size": 100, "max_position_embeddings": 16, "hidden_act": "gelu"}
TINY_VAE = {"block_out_channels": [8, 16], "down_block_types": ["DownEncoderBlock2D"] * 2,
            "up_block_types": ["UpDecoderBlock2D"] * 2, "norm_num_groups": 4, "layers_per_block": 1}
TINY_TAESD = {"encoder_block_out_channels": [8, 8, 8], "decoder_block_out_channels": [8, 8, 8],
              "num_encoder_blocks": [1, 1, 1], "num_decoder_blocks": [1, 1, 1]}


class RealSizes(unittest.TestCase):
    def test_parameter_counts(self):
        for (model, comp), want in COUNTS.items():
            with no_init():
                m = BUILDERS[comp](model_config(model, comp))
            self.assertEqual(count_parameters(m), want, f"{model}/{comp}")

    def test_unet_names(self):
        with no_init():
            m = UNet2DConditionModel(model_config("sd15", "unet"))
        sd = m.state_dict()
        self.assertEqual(len(sd), 686)
        for name in ["conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
                     "down_blocks.0.resnets.0.time_emb_proj.weight",
                     "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                     "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                     "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias",
                     "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
                     "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight",
                     "down_blocks.0.attentions.0.proj_in.weight", "down_blocks.0.downsamplers.0.conv.weight",
                     "down_blocks.1.resnets.0.conv_shortcut.weight", "mid_block.attentions.0.norm.weight",
                     "mid_block.resnets.1.norm2.weight", "up_blocks.0.upsamplers.0.conv.weight",
                     "up_blocks.3.attentions.2.transformer_blocks.0.norm3.bias",
                     "conv_norm_out.weight", "conv_out.bias"]:
            self.assertIn(name, sd)
        self.assertNotIn("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias", sd)
        self.assertEqual(list(sd["down_blocks.0.attentions.0.proj_in.weight"].shape), [320, 320, 1, 1])
        self.assertEqual(list(sd["up_blocks.1.resnets.0.conv1.weight"].shape), [1280, 2560, 3, 3])
        self.assertEqual(list(sd["up_blocks.1.resnets.2.conv1.weight"].shape), [1280, 1920, 3, 3])

    def test_head_semantics(self):
        """attention_head_dim is the number of heads for these configs."""
        want = {"sd15": ([8, 8, 8], [40, 80, 160], 8), "sd21-base": ([5, 10, 20], [64, 64, 64], 20)}
        for model, (heads, dims, mid_heads) in want.items():
            with no_init():
                m = UNet2DConditionModel(model_config(model, "unet"))
            for i in range(3):
                a = m.down_blocks[i].attentions[0].transformer_blocks[0].attn1
                self.assertEqual(a.heads, heads[i])
                self.assertEqual(a.to_q.weight.shape[0] // a.heads, dims[i])
            self.assertEqual(m.mid_block.attentions[0].transformer_blocks[0].attn2.heads, mid_heads)
            # up block 1 has down block 2's head count, up block 3 down block 0's
            self.assertEqual(m.up_blocks[1].attentions[0].transformer_blocks[0].attn1.heads, heads[2])
            self.assertEqual(m.up_blocks[3].attentions[0].transformer_blocks[0].attn1.heads, heads[0])
            lin = isinstance(m.down_blocks[0].attentions[0].proj_in, torch.nn.Linear)
            self.assertEqual(lin, model == "sd21-base")

    def test_clip_and_vae_names(self):
        with no_init():
            te = CLIPTextModel(model_config("sd15", "text_encoder"))
            vae = AutoencoderKL(model_config("sd15", "vae"))
        sd = te.state_dict()
        self.assertEqual(len(sd), 196)
        for n in ["text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                  "text_model.encoder.layers.11.self_attn.out_proj.bias", "text_model.encoder.layers.0.mlp.fc1.weight",
                  "text_model.encoder.layers.0.layer_norm2.weight", "text_model.final_layer_norm.bias"]:
            self.assertIn(n, sd)
        sd = vae.state_dict()
        for n in ["encoder.mid_block.attentions.0.to_q.weight", "encoder.mid_block.attentions.0.group_norm.bias",
                  "decoder.mid_block.attentions.0.to_out.0.weight", "quant_conv.weight", "post_quant_conv.bias",
                  "encoder.down_blocks.0.downsamplers.0.conv.weight", "decoder.up_blocks.3.resnets.2.conv2.bias",
                  "decoder.up_blocks.0.upsamplers.0.conv.weight", "encoder.conv_norm_out.weight"]:
            self.assertIn(n, sd)
        self.assertEqual(len(sd), 248)


@unittest.skipUnless(os.environ.get("REVERIE_SLOW_TESTS"), "set REVERIE_SLOW_TESTS=1 (about 30 s, 4 GB)")
class RealForward(unittest.TestCase):
    """One evaluation of the real-size UNets (and the SD VAE decoder) on a
    tiny latent with random weights: shapes and finiteness."""

    @torch.no_grad()
    def test_real_unets(self):
        g = torch.Generator().manual_seed(0)
        for model in ("sd15", "sd21-base"):
            with no_init():
                u = UNet2DConditionModel(model_config(model, "unet"))
            for p in u.parameters():
                p.normal_(0, 1.0 / max(1, p[0].numel()) ** 0.5 if p.ndim > 1 else 0.05, generator=g)
            y = u(torch.randn(1, 4, 8, 8, generator=g), 999, torch.randn(1, 77, u.config["cross_attention_dim"]))
            self.assertEqual(tuple(y.shape), (1, 4, 8, 8), model)
            self.assertTrue(torch.isfinite(y).all(), model)
            del u
        with no_init():
            vae = AutoencoderKL(model_config("sd15", "vae"))
        for p in vae.parameters():
            p.normal_(0, 1.0 / max(1, p[0].numel()) ** 0.5 if p.ndim > 1 else 0.05, generator=g)
        img = vae.decode(torch.randn(1, 4, 4, 6, generator=g))
        self.assertEqual(tuple(img.shape), (1, 3, 32, 48))
        self.assertTrue(torch.isfinite(img).all())


class Shapes(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.unet = UNet2DConditionModel(TINY_UNET).eval()

    def test_block_shapes(self):
        x = torch.randn(2, 4, 8, 12)
        ctx = torch.randn(2, 5, 12)
        shapes = []
        hooks = [b.register_forward_hook(lambda m, i, o: shapes.append(tuple((o[0] if isinstance(o, tuple) else o).shape)))
                 for b in list(self.unet.down_blocks) + [self.unet.mid_block] + list(self.unet.up_blocks)]
        y = self.unet(x, 10, ctx)
        for h in hooks:
            h.remove()
        self.assertEqual(y.shape, x.shape)
        self.assertEqual(shapes, [(2, 16, 4, 6), (2, 32, 2, 3), (2, 32, 2, 3), (2, 32, 2, 3),
                                  (2, 32, 4, 6), (2, 32, 8, 12), (2, 16, 8, 12)])

    def test_odd_sizes_use_skip_sizes(self):
        for h, w in [(7, 5), (5, 9), (3, 3)]:
            y = self.unet(torch.randn(1, 4, h, w), 500.0, torch.randn(1, 3, 12))
            self.assertEqual(tuple(y.shape), (1, 4, h, w))

    def test_batch_rows_independent(self):
        x, ctx = torch.randn(2, 4, 8, 8), torch.randn(2, 6, 12)
        t = torch.tensor([999.0, 3.5])
        with torch.no_grad():
            both = self.unet(x, t, ctx)
            one = self.unet(x[1:], t[1], ctx[1:])
        self.assertLess((both[1:] - one).abs().max().item(), 1e-5)

    def test_timestep_forms_agree(self):
        x, ctx = torch.randn(2, 4, 8, 8), torch.randn(2, 6, 12)
        with torch.no_grad():
            a = self.unet(x, 250, ctx)
            b = self.unet(x, torch.tensor(250), ctx)
            c = self.unet(x, torch.tensor([250.0, 250.0]), ctx)
        self.assertTrue(torch.equal(a, b) and torch.equal(a, c))

    def test_float64_close_to_float32(self):
        x, ctx = torch.randn(1, 4, 8, 8), torch.randn(1, 6, 12)
        u64 = copy.deepcopy(self.unet).double()
        with torch.no_grad():
            y32 = self.unet(x, 999, ctx)
            y64 = u64(x.double(), 999, ctx.double())
        self.assertLess((y32.double() - y64).abs().max().item(), 1e-4)

    def test_autograd(self):
        self.unet.train()
        te = CLIPTextModel(TINY_CLIP)
        vae, tiny = AutoencoderKL(TINY_VAE), AutoencoderTiny(TINY_TAESD)
        ids = torch.randint(0, 100, (2, 7))
        ctx = te(ids)["last_hidden_state"]
        loss = self.unet(torch.randn(2, 4, 8, 8), torch.tensor([10.0, 900.0]), ctx).square().mean()
        img = torch.rand(1, 3, 16, 16) * 2 - 1
        loss = loss + vae.decode(vae.encode(img)).square().mean() + tiny.decode(tiny.encode(img)).square().mean()
        loss.backward()
        for m in (self.unet, te, vae, tiny):
            for n, p in m.named_parameters():
                self.assertIsNotNone(p.grad, n)
                self.assertTrue(torch.isfinite(p.grad).all(), n)

    def test_autoencoder_shapes(self):
        vae, tiny = AutoencoderKL(TINY_VAE).eval(), AutoencoderTiny(TINY_TAESD).eval()
        img = torch.rand(2, 3, 16, 24) * 2 - 1
        with torch.no_grad():
            self.assertEqual(tuple(vae.encode(img).shape), (2, 4, 8, 12))
            self.assertEqual(tuple(vae.decode(torch.randn(2, 4, 8, 12)).shape), (2, 3, 16, 24))
            self.assertEqual(tuple(tiny.encode(img).shape), (2, 4, 4, 6))
            self.assertEqual(tuple(tiny.decode(torch.randn(2, 4, 4, 6)).shape), (2, 3, 16, 24))
        self.assertEqual(vae.scale_factor, 2)
        self.assertEqual(tiny.scale_factor, 4)


class TextEncoder(unittest.TestCase):
    def test_causal_and_clip_skip(self):
        torch.manual_seed(1)
        te = CLIPTextModel(TINY_CLIP).eval()
        ids = torch.randint(0, 100, (1, 9))
        ids2 = ids.clone()
        ids2[0, 6:] = 3
        with torch.no_grad():
            a, b = te(ids), te(ids2)
            # causal: changing later tokens leaves earlier positions alone
            self.assertTrue(torch.allclose(a["last_hidden_state"][:, :6], b["last_hidden_state"][:, :6], atol=1e-6))
            self.assertFalse(torch.allclose(a["last_hidden_state"][:, 6:], b["last_hidden_state"][:, 6:]))
            skip = te.encode(ids, clip_skip=1)
            want = te.text_model.final_layer_norm(a["hidden_states"][-2])
            self.assertTrue(torch.equal(skip, want))
            self.assertEqual(len(a["hidden_states"]), 3)

    def test_pooled_position(self):
        te = CLIPTextModel(dict(TINY_CLIP, vocab_size=49408, eos_token_id=2)).eval()
        ids = torch.tensor([[49406, 5, 6, 49407, 49407, 49407]])
        with torch.no_grad():
            out = te(ids)
        self.assertTrue(torch.equal(out["pooler_output"][0], out["last_hidden_state"][0, 3]))


class ConfigsAndNames(unittest.TestCase):
    def test_refuses_unsupported(self):
        for key, value in [("class_embed_type", "timestep"), ("resnet_time_scale_shift", "scale_shift"),
                           ("num_attention_heads", 8), ("addition_embed_type", "text_time"), ("bogus", 1),
                           ("mid_block_type", "UNetMidBlock2DSimpleCrossAttn")]:
            with self.assertRaises(ValueError, msg=key):
                UNet2DConditionModel(dict(TINY_UNET, **{key: value}))
        with self.assertRaises(ValueError):
            UNet2DConditionModel(dict(TINY_UNET, down_block_types=["AttnDownBlock2D", "DownBlock2D", "DownBlock2D"]))
        with self.assertRaises(ValueError):
            AutoencoderTiny(dict(TINY_TAESD, encoder_block_out_channels=[8, 16, 16]))

    def test_accepts_full_modern_configs(self):
        """Configs saved by recent diffusers list every key at its default."""
        modern = {
            "addition_embed_type": None, "addition_embed_type_num_heads": 64, "addition_time_embed_dim": None,
            "attention_type": "default", "class_embed_type": None, "class_embeddings_concat": False,
            "conv_in_kernel": 3, "conv_out_kernel": 3, "cross_attention_norm": None, "dropout": 0.0,
            "encoder_hid_dim": None, "encoder_hid_dim_type": None, "mid_block_only_cross_attention": None,
            "mid_block_type": "UNetMidBlock2DCrossAttn", "num_attention_heads": None,
            "projection_class_embeddings_input_dim": None, "resnet_out_scale_factor": 1.0,
            "resnet_skip_time_act": False, "resnet_time_scale_shift": "default",
            "reverse_transformer_layers_per_block": None, "time_cond_proj_dim": None,
            "time_embedding_act_fn": None, "time_embedding_dim": None, "time_embedding_type": "positional",
            "timestep_post_act": None, "transformer_layers_per_block": 1, "upcast_attention": True,
            "dual_cross_attention": False, "only_cross_attention": False, "num_class_embeds": None,
            "_use_default_values": ["dropout"],
        }
        with no_init():
            m = UNet2DConditionModel(dict(model_config("sd21-base", "unet"), **modern))
        self.assertEqual(count_parameters(m), COUNTS[("sd21-base", "unet")])
        vae_modern = {"force_upcast": True, "latents_mean": None, "latents_std": None, "mid_block_add_attention": True,
                      "shift_factor": None, "use_post_quant_conv": True, "use_quant_conv": True,
                      "scaling_factor": 0.18215}
        with no_init():
            AutoencoderKL(dict(model_config("sd15", "vae"), **vae_modern))
        AutoencoderTiny({"act_fn": "relu", "block_out_channels": [64, 64, 64, 64], "decoder_block_out_channels":
                         [64, 64, 64, 64], "encoder_block_out_channels": [64, 64, 64, 64], "force_upcast": False,
                         "in_channels": 3, "latent_channels": 4, "latent_magnitude": 3, "latent_shift": 0.5,
                         "num_decoder_blocks": [3, 3, 3, 1], "num_encoder_blocks": [1, 3, 3, 3], "out_channels": 3,
                         "scaling_factor": 1.0, "shift_factor": 0.0, "upsampling_scaling_factor": 2,
                         "upsample_fn": "nearest"})

    def test_time_cond_proj(self):
        """LCM-distilled UNets: timestep_cond (guidance embedding) through cond_proj."""
        from reverie_ref.unet import guidance_scale_embedding
        u = UNet2DConditionModel(dict(TINY_UNET, time_cond_proj_dim=8)).eval()
        self.assertEqual(tuple(u.time_embedding.cond_proj.weight.shape), (16, 8))
        w = guidance_scale_embedding(torch.tensor([7.5 - 1]), 8)
        self.assertEqual(tuple(w.shape), (1, 8))
        with torch.no_grad():
            a = u(torch.randn(1, 4, 8, 8), 499, torch.randn(1, 4, 12), timestep_cond=w)
        self.assertEqual(tuple(a.shape), (1, 4, 8, 8))

    def test_legacy_vae_attention_names(self):
        vae = AutoencoderKL(TINY_VAE)
        sd = vae.state_dict()
        legacy = {}
        rename = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
        for k, v in sd.items():
            new = k
            for a, b in rename.items():
                if f".attentions.0.{a}." in k:
                    new = k.replace(f".attentions.0.{a}.", f".attentions.0.{b}.")
                    if b != "proj_attn" and k.endswith("weight"):
                        v = v[:, :, None, None]  # the 1x1-conv form
            legacy[new] = v.clone()
        legacy["text_model.embeddings.position_ids"] = torch.arange(3)
        self.assertIn("encoder.mid_block.attentions.0.query.weight", legacy)
        conv = convert_legacy_names(legacy, vae)
        self.assertEqual(set(conv), set(sd))
        fresh = AutoencoderKL(TINY_VAE)
        load_weights_into(fresh, legacy)
        for k, v in fresh.state_dict().items():
            self.assertTrue(torch.equal(v, sd[k]), k)

    def test_strict_load_names_problems(self):
        vae = AutoencoderKL(TINY_VAE)
        sd = dict(vae.state_dict())
        sd.pop("quant_conv.bias")
        sd["extra.weight"] = torch.zeros(1)
        sd["post_quant_conv.weight"] = torch.zeros(4, 4, 3, 3)
        with self.assertRaises(LoadError) as cm:
            load_weights_into(AutoencoderKL(TINY_VAE), sd, where="vae")
        msg = str(cm.exception)
        for part in ["missing 1", "quant_conv.bias", "unexpected 1", "extra.weight", "post_quant_conv.weight"]:
            self.assertIn(part, msg)


if __name__ == "__main__":
    unittest.main()
