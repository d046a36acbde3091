"""Shared test setup: Qt runs offscreen; torch uses few threads on the small CI machine."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SCENEEDIT_DEVICE", "cpu")

import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
