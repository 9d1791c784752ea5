"""Shared by the callback tests: the shipped plans, a plan copy with absolute data paths, the example's tiny
model and byte tokenizer, and what a recorded run directory must hold.

The DDP worker lives here (not in a test file) so that spawned processes can import it by name.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # examples/ is importable from the repository root, as `picogate eval` imports it
    sys.path.insert(0, str(REPO))

APPROVED = REPO / "examples" / "plan.yaml"          # run_id tiny-release, 16,000 params counted 'all'
BLOCKED = REPO / "examples" / "plan_undertrained.yaml"  # run_id tiny-undertrained: claims 20:1, plans 8:1
EVAL_ROWS = REPO / "examples" / "data" / "eval" / "release_eval.jsonl"  # the eval file the plans name


def plan_copy(tmp: Path, *, run_id: str = "cb-run", counted: str = "all", params: int = 16_000) -> Path:
    """examples/plan.yaml with its data globs made absolute, and its run id and parameter count changed."""
    text = APPROVED.read_text(encoding="utf-8")
    data = REPO / "examples" / "data"
    text = text.replace('"data/', f'"{data}/').replace("run_id: tiny-release", f"run_id: {run_id}")
    text = text.replace("params: 16_000", f"params: {params}").replace("counted: all ", f"counted: {counted} ")
    path = tmp / f"{run_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def eval_config() -> Any:
    """Short generations: the verdict, not the model's prose, is under test."""
    from picogate.evaluator import EvalConfig

    return EvalConfig(max_new_tokens=4)


def tiny_model(seed: int = 0) -> Any:
    """examples/tiny_model.py's TinyGPT at about the plans' 16,000 parameters (16,536, tied head)."""
    import torch

    from examples.tiny_model import TinyConfig, TinyGPT

    torch.manual_seed(seed)
    return TinyGPT(TinyConfig(n_layer=1, n_head=2, n_embd=24))


def byte_tokenizer() -> Any:
    from examples.tiny_model import ByteTokenizer

    return ByteTokenizer()


def random_batch(generator: Any, batch: int = 4, seq: int = 32) -> Any:
    import torch

    return torch.randint(0, 256, (batch, seq), generator=generator)


def train_steps(model: Any, steps: int, *, batch: int = 4, seq: int = 32, seed: int = 0) -> int:
    """A hand-written loop: `steps` AdamW steps of next-byte prediction; returns the tokens trained."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = 0
    for _ in range(steps):
        ids = random_batch(gen, batch, seq)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tokens += ids.numel()
    return tokens


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


def assert_recorded(run_dir: Path, *, run_id: str, tokens: int, steps: int, params: int, counted: str = "all",
                    evaluated: bool = True) -> dict[str, Any]:
    """The run directory holds what the issue asks for, and the post-run gate reached a verdict on it."""
    from picogate.postrun.rundir import sha256_file

    m = manifest(run_dir)
    assert m["run_id"] == run_id
    base = m["stages"]["base"]
    assert (base["tokens"], base["steps"], base["params"], base["params_counted"]) == (tokens, steps, params, counted)
    release = m["release"]
    ckpt = Path(release["checkpoint"])
    ckpt = ckpt if ckpt.is_absolute() else run_dir / ckpt
    assert ckpt.is_file() and release["sha256"] == sha256_file(ckpt)
    assert m["stages"]["preflight"]["status"] == "approved"
    if evaluated:
        assert m["stages"]["eval"]["checkpoint_sha256"] == release["sha256"]
        assert [i["role"] for i in m["stages"]["eval"]["inputs"]] == ["eval"]
    post = json.loads((run_dir / "postrun.json").read_text(encoding="utf-8"))
    assert post["status"] in ("approved", "warn", "blocked")
    assert (run_dir / "report.md").is_file()
    return post


def honesty_failing(post: dict[str, Any]) -> str:
    return str(post["evidence"]["honesty.failing"])


def lit_gpt(seed: int = 0, steps: int = 3, batch: int = 4, seq: int = 32) -> Any:
    """A LightningModule training `tiny_model()` on `steps` batches of random token ids (generator `seed`);
    `steps_run` counts its training steps. Lightning is imported here, when a test asks for it."""
    import lightning.pytorch as L
    import torch
    import torch.nn.functional as F

    class LitGPT(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = tiny_model()
            self.steps_run = 0

        def training_step(self, batch_, batch_idx):  # type: ignore[no-untyped-def]
            self.steps_run += 1
            ids = batch_[0]
            logits = self.model(ids[:, :-1])
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.AdamW(self.parameters(), lr=1e-3)

        def train_dataloader(self):  # type: ignore[no-untyped-def]
            ids = torch.randint(0, 256, (steps * batch, seq), generator=torch.Generator().manual_seed(seed))
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ids), batch_size=batch)

    return LitGPT()


# -- 2-process DDP (gloo, CPU) ---------------------------------------------------------------------------
def ddp_worker(rank: int, world: int, port: int, plans: list[str], run_dirs: list[str], out: str) -> None:
    """One rank of a plain-API run: before_training on every rank, a DDP loop, after_training; writes what it saw.

    Each rank gets its own plan path and run directory, so a test can hand rank 1 a plan that does not
    exist (it can only learn the verdict from rank 0) and a run directory that must stay unwritten.
    """
    plan, run_dir = plans[rank], run_dirs[rank]
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    seen: dict[str, Any] = {"rank": rank, "steps": 0}
    try:
        from picogate.integrations import PreflightBlocked, after_training, before_training

        try:
            gate = before_training(plan, run_dir=run_dir)
        except PreflightBlocked as exc:
            seen |= {"stopped": True, "status": exc.result.status, "message": str(exc).splitlines()[0]}
            return
        seen |= {"stopped": False, "status": gate.status, "has_recorder": gate.recorder is not None,
                 "run_id": gate.run_id}
        model = torch.nn.parallel.DistributedDataParallel(tiny_model())
        tokens = train_steps(model, 2, seed=rank)
        seen["steps"] = 2
        total = torch.tensor(tokens)
        dist.all_reduce(total)
        result = after_training(gate, model=model.module, tokens=int(total), steps=2)
        seen["postrun"] = None if result is None else result.status
    finally:
        Path(out, f"rank{rank}.json").write_text(json.dumps(seen), encoding="utf-8")
        dist.destroy_process_group()
