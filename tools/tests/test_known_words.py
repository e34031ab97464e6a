"""Tests for tools/known_words.py: the shipped models/reverie-tiny/known_words.txt
is what the script makes from the caption grammar, and every word of many
sampled captions is in it. Run: /usr/bin/python3 -m unittest discover -s tools/tests"""

import os
import re
import sys
import unittest

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)

import known_words  # noqa: E402
import scenegen as sg  # noqa: E402

SHIPPED = os.path.join(TOOLS, '..', 'models', 'reverie-tiny', 'known_words.txt')


def shipped():
    with open(SHIPPED) as f:
        return [w.strip() for w in f if w.strip() and not w.startswith('#')]


class TestKnownWords(unittest.TestCase):
    def test_shipped_list_is_current(self):
        self.assertEqual(shipped(), known_words.known_words())

    def test_captions_use_only_known_words(self):
        words = set(shipped())
        for i in range(2000):
            cap = sg.make_caption(sg.sample_scene(sg.item_seed(5, i)))
            missing = set(re.findall(r'[a-z]+', cap.lower())) - words
            self.assertFalse(missing, f'{cap!r}: {missing}')

    def test_not_known(self):
        words = set(shipped())
        for w in ('knight', 'dragon', 'none', 'bw', 'object'):
            self.assertNotIn(w, words)


if __name__ == '__main__':
    unittest.main()
