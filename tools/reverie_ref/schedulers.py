"""EulerDiscreteScheduler and LCMScheduler as diffusers computes them, from a
scheduler_config.json dict: same float32/float64 steps in the same order, so
timesteps and sigmas match bit for bit. Not the Karras/exponential/beta sigma
variants, not thresholding; randomness is passed in, never drawn.
"""

import numpy as np
import torch

_COMMON = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "trained_betas": None,
    "prediction_type": "epsilon",
    "timestep_spacing": "linspace",
    "steps_offset": 0,
    "rescale_betas_zero_snr": False,
}

EULER_DEFAULTS = dict(_COMMON, interpolation_type="linear", use_karras_sigmas=False,
                      use_exponential_sigmas=False, use_beta_sigmas=False, sigma_min=None, sigma_max=None,
                      timestep_type="discrete", final_sigmas_type="zero")

LCM_DEFAULTS = dict(_COMMON, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    original_inference_steps=50, clip_sample=False, clip_sample_range=1.0, set_alpha_to_one=True,
                    thresholding=False, dynamic_thresholding_ratio=0.995, sample_max_value=1.0,
                    timestep_spacing="leading", timestep_scaling=10.0)

# Keys other schedulers' configs carry (PNDM, DDIM, ...) that do not change
# these two schedulers; ignored when a config is reused across classes.
_IGNORED = {"skip_prk_steps", "set_alpha_to_one", "clip_sample", "sample_max_value", "clip_sample_range",
            "thresholding", "dynamic_thresholding_ratio", "variance_type", "solver_order", "algorithm_type",
            "lower_order_final", "solver_type", "use_lu_lambdas", "euler_at_final", "lambda_min_clipped"}


def _merge(defaults, config, kind):
    cfg = dict(defaults)
    for k, v in config.items():
        if k.startswith("_"):
            continue
        if k in defaults:
            cfg[k] = v
        elif k not in _IGNORED:
            raise ValueError(f"{kind}: unknown config key '{k}'")
    return cfg


def _rescale_zero_terminal_snr(betas):
    alphas_bar_sqrt = torch.cumprod(1.0 - betas, dim=0).sqrt()
    a0 = alphas_bar_sqrt[0].clone()
    at = alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - at) * a0 / (a0 - at)
    alphas_bar = alphas_bar_sqrt ** 2
    alphas = torch.cat([alphas_bar[0:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas


def make_betas(cfg):
    """float32 betas exactly as diffusers builds them."""
    n = cfg["num_train_timesteps"]
    if cfg["trained_betas"] is not None:
        betas = torch.tensor(cfg["trained_betas"], dtype=torch.float32)
    elif cfg["beta_schedule"] == "linear":
        betas = torch.linspace(cfg["beta_start"], cfg["beta_end"], n, dtype=torch.float32)
    elif cfg["beta_schedule"] == "scaled_linear":
        betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n, dtype=torch.float32) ** 2
    else:
        raise ValueError(f"beta_schedule {cfg['beta_schedule']!r} is not supported")
    if cfg["rescale_betas_zero_snr"]:
        betas = _rescale_zero_terminal_snr(betas)
    return betas


class EulerDiscreteScheduler:
    """Usage per step i: x_in = scale_model_input(x, i); x = step(model_out, i, x).
    Steps are addressed by index (0-based) instead of diffusers' timestep
    lookup, which gives the same result for schedules without repeats."""

    def __init__(self, config):
        cfg = _merge(EULER_DEFAULTS, config, "EulerDiscreteScheduler")
        for key in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"):
            if cfg[key]:
                raise ValueError(f"EulerDiscreteScheduler: {key} is not supported")
        if cfg["timestep_type"] != "discrete" or cfg["interpolation_type"] != "linear":
            raise ValueError("EulerDiscreteScheduler: only discrete timesteps with linear interpolation")
        if cfg["prediction_type"] not in ("epsilon", "v_prediction", "sample", "original_sample"):
            raise ValueError(f"EulerDiscreteScheduler: prediction_type {cfg['prediction_type']!r}")
        self.config = cfg
        self.betas = make_betas(cfg)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        if cfg["rescale_betas_zero_snr"]:
            self.alphas_cumprod[-1] = 2 ** -24
        self.timesteps = None
        self.sigmas = None

    def set_timesteps(self, num_inference_steps):
        cfg = self.config
        n_train = cfg["num_train_timesteps"]
        n = num_inference_steps
        spacing = cfg["timestep_spacing"]
        if spacing == "linspace":
            t = np.linspace(0, n_train - 1, n, dtype=np.float32)[::-1].copy()
        elif spacing == "leading":
            ratio = n_train // n
            t = (np.arange(0, n) * ratio).round()[::-1].copy().astype(np.float32)
            t += cfg["steps_offset"]
        elif spacing == "trailing":
            ratio = n_train / n
            t = np.arange(n_train, 0, -ratio).round().copy().astype(np.float32)
            t -= 1
        else:
            raise ValueError(f"timestep_spacing {spacing!r} is not supported")
        sig = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        sig = np.interp(t, np.arange(0, len(sig)), sig)
        if cfg["final_sigmas_type"] == "sigma_min":
            last = float((((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5).item())
        elif cfg["final_sigmas_type"] == "zero":
            last = 0
        else:
            raise ValueError(f"final_sigmas_type {cfg['final_sigmas_type']!r} is not supported")
        sig = np.concatenate([sig, [last]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sig)
        self.timesteps = torch.from_numpy(t.astype(np.float32))
        self.num_inference_steps = n
        return self.timesteps

    @property
    def init_noise_sigma(self):
        """float32 tensor scalar, as diffusers."""
        m = self.sigmas.max()
        if self.config["timestep_spacing"] in ("linspace", "trailing"):
            return m
        return (m ** 2 + 1) ** 0.5

    def scale_model_input(self, sample, index):
        sigma = self.sigmas[index]
        return sample / ((sigma ** 2 + 1) ** 0.5)

    def step(self, model_output, index, sample):
        """Deterministic Euler step (s_churn = 0). Returns (prev_sample, pred_original_sample).
        As diffusers: the arithmetic is done in float32 then cast to model_output's dtype."""
        out_dtype = model_output.dtype
        work = torch.float64 if sample.dtype == torch.float64 else torch.float32
        sample = sample.to(work)
        sigma = self.sigmas[index].to(work)
        pt = self.config["prediction_type"]
        if pt in ("original_sample", "sample"):
            x0 = model_output
        elif pt == "epsilon":
            x0 = sample - sigma * model_output
        else:  # v_prediction
            x0 = model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
        derivative = (sample - x0) / sigma
        dt = self.sigmas[index + 1].to(work) - sigma
        prev = sample + derivative * dt
        return prev.to(out_dtype), x0

    def add_noise(self, original, noise, index):
        """img2img: x + noise * sigma at schedule index."""
        sigma = self.sigmas[index].to(original.dtype)
        return original + noise * sigma


class LCMScheduler:
    """Latent Consistency Model scheduler. step() needs the noise for every
    step but the last (diffusers draws it from a generator)."""

    def __init__(self, config):
        cfg = _merge(LCM_DEFAULTS, config, "LCMScheduler")
        if cfg["thresholding"]:
            raise ValueError("LCMScheduler: thresholding is not supported")
        if cfg["prediction_type"] not in ("epsilon", "sample", "v_prediction"):
            raise ValueError(f"LCMScheduler: prediction_type {cfg['prediction_type']!r}")
        self.config = cfg
        self.betas = make_betas(cfg)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        self.final_alpha_cumprod = torch.tensor(1.0) if cfg["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0
        self.timesteps = None

    def set_timesteps(self, num_inference_steps, original_inference_steps=None, strength=1.0):
        cfg = self.config
        orig = original_inference_steps or cfg["original_inference_steps"]
        n_train = cfg["num_train_timesteps"]
        if orig > n_train:
            raise ValueError("LCMScheduler: original_inference_steps > num_train_timesteps")
        k = n_train // orig
        origin = np.asarray(list(range(1, int(orig * strength) + 1))) * k - 1
        skipping = len(origin) // num_inference_steps
        if skipping < 1 or num_inference_steps > orig:
            raise ValueError(f"LCMScheduler: {num_inference_steps} steps do not fit {orig} original steps "
                             f"at strength {strength}")
        origin = origin[::-1].copy()
        idx = np.floor(np.linspace(0, len(origin), num=num_inference_steps, endpoint=False)).astype(np.int64)
        self.timesteps = torch.from_numpy(origin[idx]).to(torch.long)
        self.num_inference_steps = num_inference_steps
        return self.timesteps

    def scale_model_input(self, sample, index):
        return sample

    def boundary_scalings(self, timestep):
        """(c_skip, c_out) of get_scalings_for_boundary_condition_discrete, sigma_data 0.5."""
        sigma_data = 0.5
        st = timestep * self.config["timestep_scaling"]
        c_skip = sigma_data ** 2 / (st ** 2 + sigma_data ** 2)
        c_out = st / (st ** 2 + sigma_data ** 2) ** 0.5
        return c_skip, c_out

    def step(self, model_output, index, sample, noise=None):
        """Returns (prev_sample, denoised). noise is required unless index is the last step."""
        t = self.timesteps[index]
        prev_t = self.timesteps[index + 1] if index + 1 < len(self.timesteps) else t
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        if sample.dtype == torch.float64:
            a_t, a_prev = a_t.double(), a_prev.double()
        b_t, b_prev = 1 - a_t, 1 - a_prev
        c_skip, c_out = self.boundary_scalings(t)
        if sample.dtype == torch.float64:
            c_skip, c_out = c_skip.double(), c_out.double()
        pt = self.config["prediction_type"]
        if pt == "epsilon":
            x0 = (sample - b_t.sqrt() * model_output) / a_t.sqrt()
        elif pt == "sample":
            x0 = model_output
        else:
            x0 = a_t.sqrt() * sample - b_t.sqrt() * model_output
        if self.config["clip_sample"]:
            x0 = x0.clamp(-self.config["clip_sample_range"], self.config["clip_sample_range"])
        denoised = c_out * x0 + c_skip * sample
        if index != self.num_inference_steps - 1:
            if noise is None:
                raise ValueError("LCMScheduler.step: noise is needed for every step but the last")
            prev = a_prev.sqrt() * denoised + b_prev.sqrt() * noise
        else:
            prev = denoised
        return prev, denoised

    def add_noise(self, original, noise, timestep):
        a = self.alphas_cumprod.to(original.dtype)[timestep]
        return a ** 0.5 * original + (1 - a) ** 0.5 * noise


def make_scheduler(config, class_name=None):
    """Scheduler from a scheduler_config.json dict. class_name overrides the
    config's _class_name, as diffusers' OtherScheduler.from_config(config)
    does (e.g. Euler from SD 1.5's PNDM config)."""
    name = class_name or config.get("_class_name")
    if name == "EulerDiscreteScheduler":
        return EulerDiscreteScheduler(config)
    if name == "LCMScheduler":
        return LCMScheduler(config)
    raise ValueError(f"scheduler class {name!r} is not supported (EulerDiscreteScheduler, LCMScheduler)")
