"""Paths shared by the reference's tests."""

import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TOOLS)
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SHARED = os.environ.get("RV_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared"))
MODELS = os.path.join(SHARED, "models")

if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def model_config(model, component, name="config.json"):
    import json
    with open(os.path.join(MODELS, model, component, name), encoding="utf-8") as f:
        return json.load(f)
