"""Test-wide settings."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI, property tests draw the same examples every run, so a landing can't hinge on the dice;
# local runs keep exploring new ones (and hypothesis's database replays any failure found).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
