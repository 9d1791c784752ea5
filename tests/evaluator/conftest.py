# Shared fixtures; run with: .venv/bin/python -m pytest tests/evaluator -q
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(min(2, torch.get_num_threads()))
