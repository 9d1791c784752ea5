"""Fixtures for the Ray engine tests: one local Ray for the whole session (see ray_corpus.py for the data).

The Ray session is started once (2 CPUs, an 80 MB object store: Ray's floor, so a corpus of more than a few
tens of thousands of documents runs with the object store smaller than its sketches, and spills) and shut
down at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray_corpus import OBJECT_STORE_MB  # noqa: E402 - after the skip: ray_corpus needs nothing of Ray


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """A local Ray for the session, object store capped; always shut down."""
    if ray.is_initialized():  # pragma: no cover - another suite left one running
        ray.shutdown()
    ray.init(num_cpus=2, object_store_memory=OBJECT_STORE_MB << 20, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


