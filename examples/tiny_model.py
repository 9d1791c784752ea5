"""A tiny real transformer and a byte-level tokenizer, for the evaluator's examples and tests.

About 0.4M parameters with the defaults; it memorizes a handful of short Q/A pairs in a few seconds
on a CPU. `build()` is the factory `picogate eval --model examples.tiny_model:build` calls: it returns
(model, tokenizer), loading weights from a checkpoint written by `save()` when one is given.

    python examples/tiny_model.py --out /tmp/tiny.pt   # train on examples/data/eval/tiny_sft.jsonl, save
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class ByteTokenizer:
    """UTF-8 bytes are tokens 0-255; BOS is 256 and EOS 257."""

    vocab_size = 258
    bos_id = 256
    eos_id = 257

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


@dataclass
class TinyConfig:
    vocab_size: int = ByteTokenizer.vocab_size
    block_size: int = 128
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 96


class Block(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    """A GPT-style causal LM: `ids [B, T] -> logits [B, T, V]`.

    It also takes position ids and an attention mask (`supports_packing`), so the evaluator can
    score several continuations of one context in a single sequence.
    """

    supports_packing = True

    def __init__(self, cfg: TinyConfig | None = None) -> None:
        super().__init__()
        self.config = cfg or TinyConfig()
        cfg = self.config
        self.block_size = cfg.block_size
        self.tok = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied, as in GPT-2

    def forward(self, ids: torch.Tensor, positions: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """`mask` [B, T, T] bool, True where a query may attend to a key (default: causal)."""
        pos = torch.arange(ids.shape[1], device=ids.device) if positions is None else positions
        x = self.tok(ids) + self.pos(pos)
        if mask is not None:  # the same for every head
            mask = mask[:, None]
            if mask.device.type == "cpu":  # additive once, not a boolean conversion in every layer (~15% faster)
                mask = torch.zeros(mask.shape, dtype=x.dtype).masked_fill_(~mask, float("-inf"))
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))


def sft_sequences(rows: list[dict], tok: ByteTokenizer) -> list[tuple[list[int], int]]:
    """(BOS + prompt + response + EOS, index where the response starts) for `prompt`/`response` rows."""
    out = []
    for row in rows:
        prompt = [tok.bos_id, *tok.encode(row["prompt"])]
        out.append((prompt + tok.encode(row["response"]) + [tok.eos_id], len(prompt)))
    return out


def train(model: TinyGPT, rows: list[dict], steps: int = 300, lr: float = 3e-3, seed: int = 0,
          progress: Callable[[int], None] | None = None) -> float:
    """Fit the responses of `rows` (loss on response tokens only); returns the final loss.

    `progress(1)` is called after each step (a progress bar's advance, say)."""
    torch.manual_seed(seed)
    tok = ByteTokenizer()
    seqs = sft_sequences(rows, tok)
    width = max(len(s) for s, _ in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    targets = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, (seq, start) in enumerate(seqs):
        ids[i, : len(seq)] = torch.tensor(seq)
        targets[i, start - 1 : len(seq) - 1] = torch.tensor(seq[start:])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss = torch.tensor(math.inf)
    for step in range(steps):
        for group in opt.param_groups:  # cosine decay so the last steps settle
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    model.eval()
    return float(loss.detach())


def save(model: TinyGPT, path: str | Path) -> None:
    torch.save({"config": asdict(model.config), "state": model.state_dict()}, path)


def build(checkpoint: str | Path | None = None, **config: int) -> tuple[TinyGPT, ByteTokenizer]:
    """Factory returning (model, tokenizer); weights from `checkpoint` when given, else a seeded init."""
    if checkpoint is not None:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model = TinyGPT(TinyConfig(**saved["config"]))
        model.load_state_dict(saved["state"])
    else:
        torch.manual_seed(0)
        model = TinyGPT(TinyConfig(**config))
    model.eval()
    return model, ByteTokenizer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=str(Path(__file__).parent / "data" / "eval" / "tiny_sft.jsonl"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines() if line.strip()]
    model, _ = build()
    print(f"params {sum(p.numel() for p in model.parameters()):,}  final loss {train(model, rows, args.steps):.4f}")
    save(model, args.out)


if __name__ == "__main__":
    main()
