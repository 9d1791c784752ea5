"""Tiny models whose outputs are known by construction, shared by the evaluator tests."""

from __future__ import annotations

import math

import torch
from torch import nn

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?'\"-+=()\n#é~<>/_"
)


class CharTokenizer:
    """One token per character of ALPHABET; BOS and EOS come after it."""

    def __init__(self, alphabet: str = ALPHABET) -> None:
        self.chars = alphabet
        self.index = {c: i for i, c in enumerate(alphabet)}
        self.bos_id = len(alphabet)
        self.eos_id = len(alphabet) + 1
        self.vocab_size = len(alphabet) + 2

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids if i < len(self.chars))


class ScriptedLM(nn.Module):
    """Answers each scripted prompt with its scripted response, then EOS; EOS anywhere else.

    The chosen token gets logit `margin`, every other token 0, so greedy decoding follows the script and
    a teacher-forced token off the script costs about `margin` nats.
    """

    def __init__(self, tok: CharTokenizer, script: dict[str, str], margin: float = 30.0) -> None:
        super().__init__()
        self.tok, self.script, self.margin = tok, script, margin
        self.calls = 0

    def _next(self, prefix: str) -> int:
        for prompt, response in self.script.items():
            if prefix.startswith(prompt) and response.startswith(prefix[len(prompt):]):
                k = len(prefix) - len(prompt)
                return self.tok.index[response[k]] if k < len(response) else self.tok.eos_id
        return self.tok.eos_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        b, t = ids.shape
        out = torch.zeros((b, t, self.tok.vocab_size))
        for i in range(b):
            prefix = ""
            for j in range(t):
                tid = int(ids[i, j])
                if tid < len(self.tok.chars):
                    prefix += self.tok.chars[tid]
                out[i, j, self._next(prefix)] = self.margin
        return out


class BigramLM(nn.Module):
    """Log-probabilities chosen per (previous char, next char); the rest of the mass goes to '~'.

    Its logits are exact log-probabilities, so the loglik of a continuation is a sum of chosen numbers.
    """

    def __init__(self, tok: CharTokenizer, logp: dict[tuple[str, str], float]) -> None:
        super().__init__()
        v = tok.vocab_size
        table = torch.full((v, v), -1e4, dtype=torch.float64)
        table[:, tok.index["~"]] = 0.0
        by_prev: dict[str, float] = {}
        for (prev, nxt), lp in logp.items():
            table[tok.index[prev], tok.index[nxt]] = lp
            by_prev[prev] = by_prev.get(prev, 0.0) + math.exp(lp)
        for prev, mass in by_prev.items():
            assert mass < 1.0, prev
            table[tok.index[prev], tok.index["~"]] = math.log(1.0 - mass)
        self.register_buffer("table", table)
        self.calls = 0
        self.rows_seen = 0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.rows_seen += ids.shape[0]
        return self.table[ids]
