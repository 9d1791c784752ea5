"""Corpus replay: how many times the planned tokens pass over the corpus (epochs).

Corpus tokens come, in order of trust, from token shards (counted exactly), from a tokenizer
(when the plan configures one), or from text bytes over a declared bytes-per-token estimate;
`corpus.tokens_source` says which, and `corpus.tokens_estimated` is true for the last.
"""

from __future__ import annotations


def corpus_tokens(*, shard_tokens: int | None, tokenizer_tokens: int | None, text_bytes: int | None,
                  bytes_per_token: float) -> dict[str, object]:
    """The corpus token count and where it came from.

    >>> corpus_tokens(shard_tokens=None, tokenizer_tokens=None, text_bytes=4000, bytes_per_token=4.0)["corpus.tokens"]
    1000
    """
    if shard_tokens is not None:
        tokens, source = shard_tokens, "shards"
    elif tokenizer_tokens is not None:
        tokens, source = tokenizer_tokens, "tokenizer"
    elif text_bytes is not None:
        tokens, source = round(text_bytes / bytes_per_token), f"estimate at {bytes_per_token:g} bytes/token"
    else:
        return {"corpus.tokens": None, "corpus.tokens_estimated": None, "corpus.tokens_source": "none"}
    return {"corpus.tokens": tokens, "corpus.tokens_estimated": source.startswith("estimate"),
            "corpus.tokens_source": source}


def metrics(planned_tokens: int, corpus_tokens: int | None) -> dict[str, object]:
    """`replay.epochs`: planned tokens over corpus tokens; missing when the corpus has no tokens.

    >>> metrics(8_000, 1_000)["replay.epochs"]
    8.0
    """
    epochs = planned_tokens / corpus_tokens if corpus_tokens else None
    return {"replay.epochs": epochs}
