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

from picogate.errors import RuleError
from picogate.preflight.plan import Launch

BACKENDS, DEVICES = "attention_backends", "device_precisions"


def metrics(launch: Launch, tables: Mapping[str, list[dict[str, Any]]]) -> dict[str, object]:
    """`attention.compatible` and, when not, `attention.reason`; missing when the profile has no table."""
    combo = f"{launch.attention} on {launch.device} at {launch.precision}"
    out: dict[str, object] = {"attention.combo": combo, "attention.compatible": None,
                              "attention.reason": "the profile has no attention compatibility table"}
    if BACKENDS not in tables or DEVICES not in tables:
        return out
    backends = _index(tables[BACKENDS], "attention", ("devices", "precisions"))
    devices = _index(tables[DEVICES], "device", ("precisions",))
    reasons = []
    device = devices.get(launch.device)
    if device is None:
        reasons.append(f"device '{launch.device}' is not in the {DEVICES} table")
    elif launch.precision not in device["precisions"]:
        reasons.append(f"{launch.precision} is not supported on {launch.device}" + _why(device))
    backend = backends.get(launch.attention)
    if backend is None:
        reasons.append(f"attention '{launch.attention}' is not in the {BACKENDS} table "
                       f"(known: {', '.join(backends)})")
    else:
        if launch.device not in backend["devices"]:
            reasons.append(f"{launch.attention} attention does not run on {launch.device}" + _why(backend))
        if launch.precision not in backend["precisions"]:
            reasons.append(f"{launch.attention} attention needs {' or '.join(backend['precisions'])}, "
                           f"not {launch.precision}" + _why(backend))
    out["attention.compatible"] = not reasons
    out["attention.reason"] = "; ".join(dict.fromkeys(reasons)) if reasons else f"{combo} is supported"
    return out


def _why(row: Mapping[str, Any]) -> str:
    return f" ({row['why']})" if row.get("why") else ""


def _index(rows: list[dict[str, Any]], key: str, lists: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Rows by their key, each checked: the table is data a pull request can break."""
    table = BACKENDS if key == "attention" else DEVICES
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        allowed = {key, *lists, "why"}
        bad = sorted(set(row) - allowed)
        if bad or not isinstance(row.get(key), str) or any(
                not isinstance(row.get(f), list) or not all(isinstance(v, str) for v in row[f]) for f in lists):
            detail = f"unknown key '{bad[0]}'" if bad else f"needs '{key}' (text) and {', '.join(lists)} (lists)"
            raise RuleError(f"tables.{table}[{i}]: {detail}")
        if row[key] in out:
            raise RuleError(f"tables.{table}[{i}]: '{row[key]}' is listed twice")
        out[row[key]] = row
    return out
