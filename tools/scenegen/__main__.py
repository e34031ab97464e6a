"""Command line for scenegen. Run as `python3 tools/scenegen CMD ...` or
`python3 -m scenegen CMD ...` with tools/ on PYTHONPATH:

  dataset OUT -n N [--size 128] [--seed 0] [--split train] [--workers 2] [--shard-size 1024]
  sheet OUT.png [-n 24] [--size 128] [--seed 0] [--cols 6] [--split all] [--captions FILE] [--small]
  sample [-n 10] [--seed 0] [--split all]          print captions and attributes
  heldout                                          list held-out combinations
  bench [--sizes 128 256] [-n 200]                 images/s, JSON + a human line
  render OUT.png --seed S [--size 256] [factor=value ...]
"""

import argparse
import json
import os
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = 'scenegen'

import scenegen as sg  # noqa: E402


def _size(text):
    if 'x' in text:
        h, w = text.lower().split('x')
        return int(h), int(w)
    return int(text)


def cmd_dataset(a):
    t0 = time.time()
    done = [0]

    def progress(shard, count):
        done[0] += count
        rate = done[0] / max(time.time() - t0, 1e-9)
        print(f'SCENEGEN: shard {shard} written ({done[0]}/{a.n}, {rate:.0f} img/s)', file=sys.stderr)
    sg.write_dataset(a.out, a.n, a.size, a.seed, a.split, a.shard_size, a.workers, progress)
    dt = time.time() - t0
    print(json.dumps({'out': a.out, 'count': a.n, 'seconds': round(dt, 2),
                      'images_per_s': round(a.n / max(dt, 1e-9), 1)}))


def cmd_sheet(a):
    imgs, caps = [], []
    for i in range(a.n):
        img, cap, _ = sg.generate(sg.item_seed(a.seed, i), a.size, a.split)
        imgs.append(img)
        caps.append(cap)
    sg.save_png(a.out, sg.contact_sheet(imgs, a.cols), palette=a.small)
    if a.captions:
        with open(a.captions, 'w') as f:
            f.write('\n'.join(f'{i}: {c}' for i, c in enumerate(caps)) + '\n')
    for i, c in enumerate(caps):
        print(f'{i}: {c}')


def cmd_sample(a):
    for i in range(a.n):
        scene = sg.sample_scene(sg.item_seed(a.seed, i), a.split)
        attrs = sg.attributes(scene)
        print(json.dumps({'caption': sg.make_caption(scene), 'attributes': attrs,
                          'split': sg.split_of(scene)}))


def cmd_heldout(a):
    for c in sg.heldout_combinations():
        print(json.dumps(c))


def cmd_bench(a):
    res = {}
    scenes = [sg.sample_scene(sg.item_seed(a.seed, i)) for i in range(a.n)]
    for size in a.sizes:
        sg.render_scene(scenes[0], size)            # warm up
        t0 = time.perf_counter()
        for sc in scenes:
            sg.render_scene(sc, size)
        dt = time.perf_counter() - t0
        res[str(size)] = round(a.n / dt, 1)
    t0 = time.perf_counter()
    for i in range(a.n):
        sg.sample_scene(sg.item_seed(a.seed, i))
    res['sample_scene_per_s'] = round(a.n / (time.perf_counter() - t0), 1)
    print(json.dumps({'images_per_s': {k: v for k, v in res.items() if k.isdigit()},
                      'sample_scene_per_s': res['sample_scene_per_s'], 'n': a.n, 'threads': 1}))
    print('SCENEGEN: ' + ', '.join(f'{k}x{k}: {v} img/s ({v * 60:.0f}/min)'
                                   for k, v in res.items() if k.isdigit()) + ' on one core',
          file=sys.stderr)


def cmd_render(a):
    fixed = dict(kv.split('=', 1) for kv in a.factors)
    img, cap, attrs = sg.generate(a.seed, a.size, a.split, **fixed)
    sg.save_png(a.out, img)
    attrs.pop('scene')
    print(json.dumps({'caption': cap, 'attributes': attrs}))


def main(argv=None):
    p = argparse.ArgumentParser(prog='scenegen', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    d = sub.add_parser('dataset')
    d.add_argument('out')
    d.add_argument('-n', type=int, required=True)
    d.add_argument('--size', type=_size, default=128)
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--split', default='train', choices=('train', 'heldout', 'all'))
    d.add_argument('--workers', type=int, default=1)
    d.add_argument('--shard-size', type=int, default=1024)
    s = sub.add_parser('sheet')
    s.add_argument('out')
    s.add_argument('-n', type=int, default=24)
    s.add_argument('--size', type=_size, default=128)
    s.add_argument('--seed', type=int, default=0)
    s.add_argument('--cols', type=int, default=6)
    s.add_argument('--split', default='all', choices=('train', 'heldout', 'all'))
    s.add_argument('--captions')
    s.add_argument('--small', action='store_true', help='256-colour PNG')
    m = sub.add_parser('sample')
    m.add_argument('-n', type=int, default=10)
    m.add_argument('--seed', type=int, default=0)
    m.add_argument('--split', default='all', choices=('train', 'heldout', 'all'))
    sub.add_parser('heldout')
    b = sub.add_parser('bench')
    b.add_argument('--sizes', type=int, nargs='+', default=[128, 256])
    b.add_argument('-n', type=int, default=200)
    b.add_argument('--seed', type=int, default=1)
    r = sub.add_parser('render')
    r.add_argument('out')
    r.add_argument('--seed', type=int, required=True)
    r.add_argument('--size', type=_size, default=256)
    r.add_argument('--split', default='all', choices=('train', 'heldout', 'all'))
    r.add_argument('factors', nargs='*', help='factor=value, e.g. object=lighthouse style=sketch')
    a = p.parse_args(argv)
    try:
        {'dataset': cmd_dataset, 'sheet': cmd_sheet, 'sample': cmd_sample, 'heldout': cmd_heldout,
         'bench': cmd_bench, 'render': cmd_render}[a.cmd](a)
    except ValueError as e:
        print(f'scenegen: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
