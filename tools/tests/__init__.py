"""Unit tests of the PyTorch reference (tools/reverie_ref). They need torch,
so CI does not run them. From tools/:  /usr/bin/python3 -m unittest
(or from the repo root: /usr/bin/python3 -m unittest discover -s tools/tests -t tools)."""
