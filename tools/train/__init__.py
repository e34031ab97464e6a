"""Training of reverie-tiny, the model that ships with Reverie (see tools/train/README.md)."""
