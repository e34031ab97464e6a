"""scenegen: procedural captioned scenes for training Reverie's small
text-to-image model. numpy only (Pillow for PNG output).

    from scenegen import generate
    img, caption, attrs = generate(seed=7, size=128)       # uint8 (128, 128, 3)

Same seed -> byte-identical image and caption, in any process. Not a
model or a trainer: it makes data (see dataset.py for .npy shards)."""

from .vocab import (TIMES, WEATHERS, TERRAINS, OBJECTS, COLORS, SKY_COLORS, STYLES, FACTORS,
                    RGB, OBJECT_TERRAINS, attributes, label_vector, objects_multi_hot,
                    sample_scene, scene_ok)
from .caption import make_caption, parse_caption
from .split import (PAIR_TYPES, heldout_combinations, heldout_in, heldout_pairs, split_of,
                    fixed_for)
from .render import render_scene
from .dataset import generate, item_seed, contact_sheet, save_png, write_dataset, load_dataset

__all__ = [
    'TIMES', 'WEATHERS', 'TERRAINS', 'OBJECTS', 'COLORS', 'SKY_COLORS', 'STYLES', 'FACTORS',
    'RGB', 'OBJECT_TERRAINS', 'attributes', 'label_vector', 'objects_multi_hot', 'sample_scene',
    'scene_ok', 'make_caption', 'parse_caption', 'PAIR_TYPES', 'heldout_combinations',
    'heldout_in', 'heldout_pairs', 'split_of', 'fixed_for', 'render_scene', 'generate',
    'item_seed', 'contact_sheet', 'save_png', 'write_dataset', 'load_dataset',
]
