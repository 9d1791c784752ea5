"""Attention backend / device / precision compatibility, read from a table in the profile.

The table is policy, so it lives in a rule file's `tables:` section, not here:

    tables:
      attention_backends:
        - {attention: flash, devices: [cuda], precisions: [bf16, fp16], why: FlashAttention is CUDA-only}
      device_precisions:
        - {device: cpu, precisions: [bf16, fp32], why: fp16 matmuls are not supported on CPU}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from picogate.preflight.plan import Launch
from picogate.rules.tables import AttentionBackend, DevicePrecisions, Tables, as_tables

BACKENDS, DEVICES = "attention_backends", "device_precisions"


def metrics(launch: Launch, tables: Tables | Mapping[str, Any]) -> dict[str, object]:
    """`attention.compatible` and, when not, `attention.reason`; missing when the profile has no table.

    The tables arrive typed and checked (`picogate.rules.tables`: rows are unique by their key).
    """
    combo = f"{launch.attention} on {launch.device} at {launch.precision}"
    out: dict[str, object] = {"attention.combo": combo, "attention.compatible": None,
                              "attention.reason": "the profile has no attention compatibility table"}
    t = as_tables(tables)
    if t.attention_backends is None or t.device_precisions is None:
        return out
    backends = {row.attention: row for row in t.attention_backends}
    devices = {row.device: row for row in t.device_precisions}
    reasons = []
    device = devices.get(launch.device)
    if device is None:
        reasons.append(f"device '{launch.device}' is not in the {DEVICES} table")
    elif launch.precision not in device.precisions:
        reasons.append(f"{launch.precision} is not supported on {launch.device}" + _why(device))
    backend = backends.get(launch.attention)
    if backend is None:
        reasons.append(f"attention '{launch.attention}' is not in the {BACKENDS} table "
                       f"(known: {', '.join(backends)})")
    else:
        if launch.device not in backend.devices:
            reasons.append(f"{launch.attention} attention does not run on {launch.device}" + _why(backend))
        if launch.precision not in backend.precisions:
            reasons.append(f"{launch.attention} attention needs {' or '.join(backend.precisions)}, "
                           f"not {launch.precision}" + _why(backend))
    out["attention.compatible"] = not reasons
    out["attention.reason"] = "; ".join(dict.fromkeys(reasons)) if reasons else f"{combo} is supported"
    return out


def _why(row: AttentionBackend | DevicePrecisions) -> str:
    return f" ({row.why})" if row.why else ""
