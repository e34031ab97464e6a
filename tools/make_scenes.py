#!/usr/bin/python3
"""Procedural captioned scenes for training: a thin wrapper over
tools/scenegen (python3 tools/make_scenes.py --help)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenegen.__main__ import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
