"""Tests for tools/scenegen: determinism, caption/attribute agreement,
vocabulary reachability, held-out split, image format, dataset writer.
Run: /usr/bin/python3 -m unittest discover -s tools/tests"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import zlib

import numpy as np

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)

import scenegen as sg  # noqa: E402
from scenegen import vocab  # noqa: E402

N_SCENES = 3000     # sampling is cheap; rendering is kept to a few dozen images


def scenes(n=N_SCENES, split='all', base=1):
    return [sg.sample_scene(sg.item_seed(base, i), split) for i in range(n)]


class TestDeterminism(unittest.TestCase):
    def test_same_seed_same_bytes(self):
        for seed in (0, 7, 123456789, 2 ** 40 + 3):
            a = sg.generate(seed, 64)
            b = sg.generate(seed, 64)
            self.assertEqual(a[0].tobytes(), b[0].tobytes())
            self.assertEqual(a[1], b[1])
            self.assertEqual(a[2], b[2])

    def test_different_seeds_differ(self):
        imgs = [sg.generate(s, 48)[0].tobytes() for s in range(6)]
        self.assertEqual(len(set(imgs)), 6)

    def test_every_style_deterministic(self):
        for st in sg.STYLES:
            a = sg.generate(5, 64, style=st, weather='snow')[0]
            b = sg.generate(5, 64, style=st, weather='snow')[0]
            self.assertTrue(np.array_equal(a, b), st)

    def test_same_in_a_fresh_process(self):
        code = ('import sys; sys.path.insert(0, %r); import scenegen as sg, hashlib; '
                'img, cap, _ = sg.generate(42, 96); '
                'print(hashlib.sha256(img.tobytes()).hexdigest(), cap)' % TOOLS)
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                             check=True).stdout.strip()
        import hashlib
        img, cap, _ = sg.generate(42, 96)
        self.assertEqual(out, hashlib.sha256(img.tobytes()).hexdigest() + ' ' + cap)

    def test_item_seed_stable(self):
        self.assertEqual(sg.item_seed(0, 0), sg.item_seed(0, 0))
        self.assertNotEqual(sg.item_seed(0, 1), sg.item_seed(1, 0))
        self.assertLess(sg.item_seed(3, 9), 2 ** 63)


class TestImages(unittest.TestCase):
    def test_shape_dtype(self):
        for size, shape in ((128, (128, 128, 3)), (64, (64, 64, 3)), ((48, 80), (48, 80, 3)),
                            ((97, 61), (97, 61, 3))):
            img = sg.generate(3, size)[0]
            self.assertEqual(img.shape, shape)
            self.assertEqual(img.dtype, np.uint8)
            self.assertTrue(img.flags['C_CONTIGUOUS'])

    def test_not_blank(self):
        for seed in range(8):
            img = sg.generate(seed, 64)[0]
            self.assertGreater(float(img.std()), 8.0, seed)

    def test_sizes_agree(self):
        """The layout is resolution independent: a downscaled 256 image is close to the 128 one."""
        sc = sg.sample_scene(11, style='realistic', weather='clear')
        a = sg.render_scene(sc, 128).astype(np.float32)
        b = sg.render_scene(sc, 256).astype(np.float32)
        b = b.reshape(128, 2, 128, 2, 3).mean(axis=(1, 3))
        self.assertLess(float(np.abs(a - b).mean()), 12.0)

    def test_bw_is_gray(self):
        img = sg.generate(4, 64, style='bw')[0].astype(int)
        self.assertEqual(int(np.abs(img[..., 0] - img[..., 1]).max()), 0)

    def test_every_object_terrain_pair_renders(self):
        for k in sg.OBJECTS:
            for t in vocab.OBJECT_TERRAINS[k]:
                sc = sg.sample_scene(zlib.crc32(f'{k}/{t}'.encode()), object=k, terrain=t)
                img = sg.render_scene(sc, 32)
                self.assertEqual(img.shape, (32, 32, 3))

    def test_layouts_have_room(self):
        """Every terrain offers enough places for the objects a scene asks for."""
        from scenegen import canvas, render, terrain
        for sc in scenes(4000, base=6):
            cv = canvas.Canvas(16, 16, sc['style'], sc['seed'])
            ctx = render.Context(sc, cv)
            lay = terrain.build(cv, ctx)
            kinds = [o['kind'] for o in sc['objects']]
            self.assertGreaterEqual(len(lay.land), sum(k in vocab.LAND_OBJECTS for k in kinds), sc)
            self.assertGreaterEqual(len(lay.water), kinds.count('boat'), sc)
            if 'bridge' in kinds:
                self.assertIsNotNone(lay.span, sc)

    def test_object_mask(self):
        """with_mask leaves the image as it was and covers the objects: all
        of a scene's visible object, nothing of a scene without one."""
        for seed in range(6):
            img, cap, attrs = sg.generate(seed, 96)
            img2, cap2, attrs2, mask = sg.generate(seed, 96, with_mask=True)
            self.assertTrue((img == img2).all(), seed)
            self.assertEqual((cap, attrs['objects']), (cap2, attrs2['objects']))
            self.assertEqual((mask.shape, mask.dtype), ((96, 96), np.float32))
            self.assertTrue(0.0 <= float(mask.min()) and float(mask.max()) <= 1.0)
        sc = sg.sample_scene(3, object='none')
        self.assertEqual(float(sg.render_scene(sc, 64, with_mask=True)[1].max()), 0.0)
        # a castle in flat cartoon: its pixels differ from the scene drawn without it
        sc = sg.sample_scene(5, object='castle', style='cartoon', weather='clear', terrain='meadow')
        sc['objects'] = sc['objects'][:1]
        img, mask = sg.render_scene(sc, 128, with_mask=True)
        bare = sg.render_scene(dict(sc, objects=[]), 128)
        changed = np.abs(img.astype(int) - bare.astype(int)).sum(-1) > 30
        self.assertGreater(mask.mean(), 0.01)
        self.assertGreater(float(mask[changed].mean()), 0.8)
        self.assertLess(float(mask[~changed].mean()), 0.05)

    def test_bad_scene_rejected(self):
        sc = sg.sample_scene(1, object='boat')
        bad = dict(sc, terrain='desert')
        with self.assertRaises(ValueError):
            sg.render_scene(bad, 64)
        with self.assertRaises(ValueError):
            sg.render_scene(dict(sc, style='oil'), 64)
        with self.assertRaises(ValueError):
            sg.render_scene(sc, 4)


class TestVocabulary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scenes = scenes()

    def test_all_values_reachable(self):
        seen = {k: set() for k in vocab.FACTORS}
        kinds, colors, sky = set(), set(), set()
        for sc in self.scenes:
            at = sg.attributes(sc)
            for k in vocab.FACTORS:
                seen[k].add(at[k])
            kinds.update(at['objects'])
            colors.update(at['colors'].values())
            sky.add(sc['sky_color'])
        for k, vals in vocab.FACTORS.items():
            self.assertEqual(seen[k], set(vals), k)
        self.assertEqual(kinds, set(sg.OBJECTS))
        self.assertEqual(colors, set(sg.COLORS))
        self.assertEqual(sky, set(sg.SKY_COLORS) | {None})

    def test_all_object_terrain_pairs_reachable(self):
        pairs = {(o['kind'], sc['terrain']) for sc in self.scenes for o in sc['objects']}
        want = {(k, t) for k in sg.OBJECTS for t in vocab.OBJECT_TERRAINS[k]}
        self.assertEqual(pairs, want)

    def test_placement_rules_hold(self):
        for sc in self.scenes:
            self.assertIsNone(vocab.scene_ok(sc))
            for o in sc['objects']:
                if o['kind'] == 'boat':
                    self.assertIn(sc['terrain'], ('sea', 'lake', 'river', 'island', 'city'))
                if o['kind'] == 'rainbow':
                    self.assertNotIn(sc['time'], ('night', 'dusk'))
                if o['kind'] == 'lighthouse':
                    self.assertNotIn(sc['terrain'], ('desert', 'forest', 'volcano'))

    def test_fixed_factors(self):
        sc = sg.sample_scene(3, object='lighthouse', object_color='red', time='sunset',
                             style='watercolor', terrain='hills', sky_color='purple')
        self.assertEqual((sc['objects'][0]['kind'], sc['objects'][0]['color'], sc['time'], sc['style'],
                          sc['terrain'], sc['sky_color']),
                         ('lighthouse', 'red', 'sunset', 'watercolor', 'hills', 'purple'))
        self.assertEqual(sg.sample_scene(3, object='none')['objects'], [])
        self.assertIsNone(sg.sample_scene(3, sky_color='none')['sky_color'])
        with self.assertRaises(ValueError):
            sg.sample_scene(3, object='boat', terrain='desert')
        with self.assertRaises(ValueError):
            sg.sample_scene(3, object='dragon')
        with self.assertRaises(ValueError):
            sg.sample_scene(3, mood='happy')

    def test_label_vectors(self):
        at = sg.attributes(self.scenes[0])
        lv = sg.label_vector(at)
        self.assertEqual(len(lv), len(vocab.FACTORS))
        for (k, vals), i in zip(vocab.FACTORS.items(), lv):
            self.assertEqual(vals[i], at[k])
        mh = sg.objects_multi_hot(at)
        self.assertEqual(sorted(k for k, v in zip(sg.OBJECTS, mh) if v), at['objects'])


class TestCaptions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scenes = scenes(2000, base=2)
        cls.caps = [sg.make_caption(sc) for sc in cls.scenes]

    def test_caption_states_attributes(self):
        for sc, cap in zip(self.scenes, self.caps):
            p = sg.parse_caption(cap)
            msg = f'{cap!r} vs {sc}'
            self.assertEqual(p['style'], sc['style'], msg)
            self.assertEqual(p['terrain'], sc['terrain'], msg)
            if sc['style'] in ('bw', 'sketch'):
                self.assertIsNone(p['sky_color'], msg)
                self.assertEqual(p['colors'], {}, msg)
            else:
                self.assertEqual(p['sky_color'], sc['sky_color'], msg)
            self.assertEqual(p['objects'], {o['kind'] for o in sc['objects']}, msg)
            for kind, col in p['colors'].items():
                self.assertEqual(dict((o['kind'], o['color']) for o in sc['objects'])[kind], col, msg)
            if sc['time'] != 'day':
                self.assertEqual(p['time'], sc['time'], msg)
            else:
                self.assertIn(p['time'], ('day', None), msg)
            if sc['weather'] not in ('clear', 'clouds') or (sc['weather'] == 'clouds' and p['sky_color']):
                self.assertEqual(p['weather'], sc['weather'], msg)
            else:
                self.assertIn(p['weather'], (sc['weather'], None), msg)

    def test_main_colour_usually_named(self):
        named = sum(1 for sc, cap in zip(self.scenes, self.caps)
                    if sc['objects'] and sc['objects'][0]['color'] and sc['style'] not in ('bw', 'sketch')
                    and sg.parse_caption(cap)['colors'].get(sc['objects'][0]['kind']))
        coloured = sum(1 for sc in self.scenes if sc['objects'] and sc['objects'][0]['color']
                       and sc['style'] not in ('bw', 'sketch'))
        self.assertGreater(named / coloured, 0.7)

    def test_phrasing_varies(self):
        # same attributes, different seeds -> several different captions
        caps = {sg.make_caption(dict(sg.sample_scene(1, object='boat', terrain='lake', time='night',
                                                     weather='clear', style='cartoon'), seed=s))
                for s in range(40)}
        self.assertGreater(len(caps), 8)
        self.assertGreater(len(set(self.caps)), 0.9 * len(self.caps))

    def test_caption_is_clean_english(self):
        for cap in self.caps:
            self.assertNotIn('  ', cap)
            self.assertFalse(cap.endswith(' '))
            self.assertNotIn(' a orange', cap)
            self.assertNotIn(' a a', cap)
            self.assertNotIn('of at ', cap)
            self.assertLessEqual(cap.count(' with '), 1, cap)
            self.assertRegex(cap, r'^[a-z ,]+$')


class TestHeldout(unittest.TestCase):
    def test_pairs_exist_and_are_valid(self):
        held = sg.heldout_pairs()
        self.assertEqual(set(held), set(sg.PAIR_TYPES))
        for ptype, pairs in held.items():
            self.assertGreater(len(pairs), 0, ptype)

    def test_split_is_deterministic_and_disjoint(self):
        self.assertEqual(sg.heldout_combinations(), sg.heldout_combinations())
        train = scenes(1500, 'train', base=3)
        held = scenes(300, 'heldout', base=4)
        for sc in train:
            self.assertEqual(sg.split_of(sc), 'train')
            self.assertEqual(sg.heldout_in(sc), [])
        for sc in held:
            self.assertEqual(sg.split_of(sc), 'heldout')
            self.assertTrue(sg.heldout_in(sc))
        train_pairs = set()
        from scenegen.split import scene_pairs
        for sc in train:
            train_pairs |= scene_pairs(sc)
        held_pairs = {(pt, p) for pt, ps in sg.heldout_pairs().items() for p in ps}
        self.assertFalse(train_pairs & held_pairs)

    def test_every_value_still_trained(self):
        """Held-out pairs are compositions of values that training does see."""
        train = scenes(3000, 'train', base=5)
        seen = {k: set() for k in ('time', 'weather', 'terrain', 'style', 'object', 'object_color')}
        for sc in train:
            at = sg.attributes(sc)
            for k in seen:
                seen[k].add(at[k])
        for combo in sg.heldout_combinations():
            for k, v in combo.items():
                key = {'color': 'object_color'}.get(k, k)
                self.assertIn(v, seen[key], (combo, k))

    def test_each_combination_can_be_drawn(self):
        for i, combo in enumerate(sg.heldout_combinations()):
            sc = sg.sample_scene(i, 'heldout', **sg.fixed_for(combo))
            self.assertEqual(sg.split_of(sc), 'heldout')


class TestDataset(unittest.TestCase):
    def test_writer_independent_of_workers(self):
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            sg.write_dataset(d1, 10, 32, seed=9, split='train', shard_size=4, workers=1)
            sg.write_dataset(d2, 10, 32, seed=9, split='train', shard_size=4, workers=2)
            for name in sorted(os.listdir(d1)):
                with open(os.path.join(d1, name), 'rb') as f1, open(os.path.join(d2, name), 'rb') as f2:
                    self.assertEqual(f1.read(), f2.read(), name)
            shards = list(sg.load_dataset(d1))
            self.assertEqual([len(s[0]) for s in shards], [4, 4, 2])
            imgs, labels, objs, recs = shards[1]
            self.assertEqual(imgs.shape, (4, 32, 32, 3))
            self.assertEqual(imgs.dtype, np.uint8)
            self.assertEqual(labels.shape, (4, len(vocab.FACTORS)))
            self.assertEqual(objs.shape, (4, len(sg.OBJECTS)))
            r = recs[2]
            self.assertEqual(r['index'], 6)
            img, cap, attrs = sg.generate(sg.item_seed(9, 6), 32, 'train')
            self.assertTrue(np.array_equal(imgs[2], img))
            self.assertEqual(r['caption'], cap)
            self.assertEqual(r['attributes']['split'], 'train')
            self.assertEqual(list(labels[2]), sg.label_vector(r['attributes']))
            with open(os.path.join(d1, 'meta.json')) as f:
                meta = json.load(f)
            self.assertEqual(meta['count'], 10)


if __name__ == '__main__':
    unittest.main()
