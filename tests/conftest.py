"""Suite-wide settings: reproducible hypothesis runs.

Hypothesis draws the same examples on every run (``derandomize``), so a red CI can be
rerun and gives the same answer. To explore new examples, run
``python -m pytest --hypothesis-profile=explore``.
"""
from __future__ import annotations

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")
