"""DDP launch shape: world size, tokens per forward/backward, and gradient accumulation.

nanochat's arithmetic: each optimizer step sees `total_batch_size` tokens, made of
`grad_accum_steps` forward/backward passes of `device_batch_size x max_seq_len` tokens on each
of `world_size` ranks; the division must be exact or the run silently trains another batch.
"""

from __future__ import annotations

from picogate.preflight.plan import Launch


def metrics(launch: Launch) -> dict[str, object]:
    """`launch.batch_divides` is true when total_batch_size is a positive multiple of one fwd/bwd.

    >>> metrics(Launch(device_batch_size=32, max_seq_len=2048, total_batch_size=524288, nproc_per_node=8,
    ...                device="cuda", precision="bf16"))["launch.grad_accum_steps"]
    1
    """
    world = launch.nnodes * launch.nproc_per_node
    per_step = launch.device_batch_size * launch.max_seq_len * world
    divides = launch.total_batch_size % per_step == 0
    return {
        "launch.world_size": world,
        "launch.tokens_per_fwdbwd": per_step,
        "launch.total_batch_size": launch.total_batch_size,
        "launch.grad_accum_steps": launch.total_batch_size // per_step if divides else None,
        "launch.batch_divides": divides,
    }
