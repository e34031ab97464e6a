"""Writes models/reverie-tiny/known_words.txt: every word the caption grammar
the model was trained on can produce (tools/scenegen/vocab.py and
caption.py), so `reverie check --model` can name prompt words the model was
never taught. Not a tokenizer: words are lower-case runs of letters."""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenegen import caption, vocab  # noqa: E402


def _strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(x, (tuple, list, set, frozenset)):
        for v in x:
            yield from _strings(v)


def known_words():
    """The sorted set of words in every phrase table and word list."""
    words = set()
    for mod in (vocab, caption):
        for name, val in vars(mod).items():
            if name.startswith('_') and name not in ('_C', '_O'):
                continue
            if name in ('KEYWORDS', 'FACTORS'):  # parser regexes; attribute names
                continue
            if isinstance(val, (str, tuple, list, dict, set, frozenset)):
                for s in _strings(val):
                    words.update(re.findall(r'[a-z]+', s.lower()))
    # phrases make_caption writes inline
    for s in ('a flock of birds', 'under a starry sky', 'with', 'and', 'small', 'sky', 'cloudy'):
        words.update(s.split())
    words.discard('none')
    words.discard('bw')                     # a style's key, never a caption word
    return sorted(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('-o', '--out', default=os.path.join(here, '..', 'models', 'reverie-tiny',
                                                       'known_words.txt'))
    args = ap.parse_args()
    words = known_words()
    with open(args.out, 'w') as f:
        f.write('# Words of the caption grammar reverie-tiny was trained on\n'
                '# (tools/scenegen); written by tools/known_words.py. One a line.\n')
        for w in words:
            f.write(w + '\n')
    print(f'{len(words)} words -> {args.out}')


if __name__ == '__main__':
    main()
