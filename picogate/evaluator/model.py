"""One small interface over the models the evaluator scores.

Any causal LM given as a callable `ids: LongTensor[B, T] -> logits: FloatTensor[B, T, V]` works (a
plain `torch.nn.Module` is the common case), with a tokenizer offering `encode`, `decode` and its
BOS/EOS ids. A Hugging Face `transformers` causal LM and tokenizer are adapted when that package is
installed. Everything downstream talks to `LM` only.

A model may also offer *packing*: `model(ids, positions=..., mask=...)` with position ids [B, T] and
a boolean mask [B, T, T] (True: the query token may attend to the key token), declared by a
`supports_packing = True` attribute. The scorer then computes a question's context once for all its
choices (see picogate/evaluator/choice.py); without it, everything still works, with more compute.
A declaration is not trusted: before the first packed pass, a small probe compares packed logits with
plain ones, and a model that gets them wrong is scored without packing (with a warning).

A model may also offer *incremental decoding* (a KV cache), so greedy generation feeds one new token a
step instead of recomputing the whole sequence, by a method

    model.forward_cached(ids [B, T], positions [B, T], mask [B, T, S], cache) -> (logits, cache)

`cache` is None on the first call (the prompt) and otherwise what the previous call returned, holding
the S - T earlier positions; `mask` is True where a query may attend to a key (the cached positions,
then these T). The returned logits are [B, T, V], or [B, 1, V] for the last position only. The cache
must be nested tuples/lists of tensors with the batch first (e.g. per layer `(k, v)` of shape
[B, H, S, D]), or an object with `batch_select_indices(rows)` as transformers' caches have, so that rows
that finish can leave the batch. Hugging Face models use their own cache. This too is probed before use;
without it (or when the probe disagrees) generation recomputes the sequence at every step.

Scoring reads the logits of a few positions only (each continuation's tokens), so a model may split its
output layer off: `model.forward_hidden(ids, positions=..., mask=...) -> [B, T, C]` (the last hidden
states, final norm included; positions and mask only as `forward` takes them when packing) and
`model.output_logits(hidden [N, C]) -> [N, V]`. Then the vocabulary-wide layer runs on the scored
positions only. Hugging Face models are split this way (base model, then output embeddings); the split
is probed against full logits (a model that scales or caps its logits in `forward` fails it) and
without it the full logits are computed and sliced.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

Messages = Sequence[dict[str, str]]
ChatTemplate = Callable[[Messages], "str | list[int]"]

# Token budget per forward pass used to pick a batch size when none is given. On CUDA it is where the
# search starts: a batch that runs out of memory is retried at half the size (see `run_batches`).
_CPU_TOKEN_BUDGET = 2_048  # small batches stay in cache: on 2 cores B~8 of ~200 tokens beat B=64 by 1.3x
_CUDA_TOKEN_BUDGET = 262_144


def _special_id(tokenizer: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(tokenizer, name, None)
        if callable(value):
            value = value()
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def render_messages(messages: Messages) -> str:
    """The fallback prompt for chat rows when no chat template is given: the turns' texts, one per line."""
    return "\n".join(m["content"] for m in messages)


class LM:
    """A causal LM plus its tokenizer, on one device, evaluated greedily under inference mode.

    >>> lm = LM(model, tokenizer)            # model(ids) -> logits
    >>> lm.logits(torch.tensor([[lm.bos_id]])).shape
    """

    def __init__(
        self,
        model: Callable[[torch.Tensor], Any],
        tokenizer: Any,
        *,
        device: str | torch.device | None = None,
        chat_template: ChatTemplate | None = None,
        add_bos: bool | None = None,
        max_len: int | None = None,
        autocast: bool = True,
        packing: bool | None = None,
        kv_cache: bool | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device) if device is not None else default_device()
        if isinstance(model, torch.nn.Module):
            model.to(self.device)
            model.eval()
        self.chat_template = chat_template
        self.bos_id = _special_id(tokenizer, ("bos_id", "bos_token_id", "get_bos_token_id"))
        self.eos_id = _special_id(tokenizer, ("eos_id", "eos_token_id", "get_eos_token_id"))
        # None: the tokenizer's own default (docs/evaluator.md, "BOS"): what it declares as `add_bos_token`
        # (the HF adapter probes whether the tokenizer adds BOS itself, as lm-eval relies on), else BOS
        # whenever there is one (plain tokenizers, nanochat's convention and the example trainer's).
        declared = getattr(tokenizer, "add_bos_token", None)
        default = declared if isinstance(declared, bool) else self.bos_id is not None
        self.add_bos = default if add_bos is None else add_bos
        if self.add_bos and self.bos_id is None:
            raise ValueError("add_bos=True but the tokenizer has no BOS id")
        self.max_len = max_len if max_len is not None else _model_max_len(model)
        self._packing: bool | None = None if packing is not False else False  # None: probe on first use
        self._packing_declared = bool(getattr(model, "supports_packing", False)) if packing is None else packing
        self._cached_forward = getattr(model, "forward_cached", None)
        self._split = (getattr(model, "forward_hidden", None), getattr(model, "output_logits", None))
        self._slicing: bool | None = None if None not in self._split else False
        if kv_cache and self._cached_forward is None:
            raise ValueError("kv_cache=True but the model has no forward_cached (see picogate.evaluator.model)")
        self._kv_cache: bool | None = None if kv_cache is not False and self._cached_forward is not None else False
        cuda = self.device.type == "cuda"
        self._autocast = autocast and cuda and torch.cuda.is_bf16_supported()
        self.token_budget = _CUDA_TOKEN_BUDGET if cuda else _CPU_TOKEN_BUDGET

    # -- tokenizer -----------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids))

    @property
    def stop_ids(self) -> frozenset[int]:
        return frozenset() if self.eos_id is None else frozenset({self.eos_id})

    def prompt_ids(self, prompt: str | None = None, messages: Messages = ()) -> tuple[list[int], str]:
        """Token ids the model continues from, and the prompt text kept in the result row.

        A chat template (if any) sees the prompt as one user turn; without one, the prompt is used as is.
        """
        if prompt is not None:
            messages = ({"role": "user", "content": prompt},)
        if self.chat_template is not None:
            rendered = self.chat_template(messages)
            if isinstance(rendered, str):
                return self._with_bos(self.encode(rendered)), rendered
            return list(rendered), prompt if prompt is not None else render_messages(messages)
        text = prompt if prompt is not None else render_messages(messages)
        return self._with_bos(self.encode(text)), text

    def _with_bos(self, ids: list[int]) -> list[int]:
        return [self.bos_id, *ids] if self.add_bos and self.bos_id is not None else ids

    def context_ids(self, text: str) -> list[int]:
        """Plain (non-chat) context ids, BOS first when the tokenizer has one."""
        return self._with_bos(self.encode(text))

    # -- model ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        """Where every forward pass runs: inference mode, and bf16 autocast on CUDA when the LM was asked for it."""
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if self._autocast else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            yield

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, T] token ids -> [B, T, V] logits; right padding is safe because the model is causal."""
        with self._running():
            out = self.model(to_device(ids, self.device))
        return _logits_of(out)

    @property
    def packing(self) -> bool:
        """Whether packed passes give the same logits as plain ones (probed once, on first use)."""
        if self._packing is None:
            self._packing = self._packing_declared and self._probe_packing()
        return self._packing

    def _probe_packing(self) -> bool:
        """Score a context with two continuations packed and plain; packing is used only if they agree."""
        first = self.bos_id if self.bos_id is not None else 1
        ctx, a, b = [first, 1, 2, 3], [4, 5, 1], [5, 4]
        ids = torch.tensor([ctx + a + b])
        positions = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 4, 5]])
        segments = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 2, 2]])
        try:
            packed = self._packed(ids, positions, segments)[0].float()
            plain_a = self.logits(torch.tensor([ctx + a]))[0].float()
            plain_b = self.logits(torch.tensor([ctx + b]))[0].float()
            gap = max((packed[:7] - plain_a).abs().max().item(), (packed[7:] - plain_b[4:]).abs().max().item())
        except Exception as exc:  # a model that says it packs but cannot take the arguments
            warnings.warn(f"the model declares supports_packing but a packed pass failed ({type(exc).__name__}: "
                          f"{exc}); scoring without packing", stacklevel=3)
            return False
        tolerance = 5e-2 if self._autocast else 1e-3  # bf16 kernels differ by batch shape; fp32 agree closely
        if not gap <= tolerance * (1.0 + plain_a.abs().max().item()):
            warnings.warn(f"the model declares supports_packing but packed logits differ from plain ones by {gap:.3g}; "
                          "scoring without packing", stacklevel=3)
            return False
        return True

    def packed_logits(self, ids: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """Logits of packed sequences: segment 0 is a shared context, k >= 1 a continuation, -1 padding.

        A token attends causally to the context and to its own segment, never to other segments.
        """
        if not self.packing:
            raise ValueError("this model does not take position ids and an attention mask (supports_packing)")
        return self._packed(ids, positions, segments)

    def _packed(self, ids: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor,
                fn: Callable[..., Any] | None = None) -> torch.Tensor:
        # The mask is built where the model runs: [B, T] segments travel, not a [B, T, T] mask.
        dev, t = self.device, ids.shape[1]
        ids, positions, segments = (to_device(x, dev) for x in (ids, positions, segments))
        causal = torch.ones((t, t), dtype=torch.bool, device=dev).tril()
        keys, queries = segments[:, None, :], segments[:, :, None]
        mask = causal & ((keys == 0) | (keys == queries))
        mask |= torch.eye(t, dtype=torch.bool, device=dev)  # padding sees itself, so no row is empty
        with self._running():
            out = (fn or self.model)(ids, positions=positions, mask=mask)
        return out if fn is not None else _logits_of(out)

    @property
    def slicing(self) -> bool:
        """Whether the output layer can run on chosen positions only (forward_hidden + output_logits)."""
        if self._slicing is None:
            self._slicing = self._probe_slicing()
        return self._slicing

    def logits_at(self, ids: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                  positions: torch.Tensor | None = None, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [N, V] at (rows[n], cols[n]) of a plain batch, or of a packed one given positions and
        segments: the output layer and its [B, T, V] tensor are skipped at every other position."""
        if segments is not None and not self.packing:
            raise ValueError("this model does not take position ids and an attention mask (supports_packing)")
        if self.slicing:
            return self._split_logits(ids, rows, cols, positions, segments)
        full = self.logits(ids) if segments is None else self._packed(ids, positions, segments)
        return full[rows, cols]

    def _split_logits(self, ids: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                      positions: torch.Tensor | None, segments: torch.Tensor | None) -> torch.Tensor:
        hidden_fn, output_fn = self._split
        if segments is None:
            with self._running():
                hidden = hidden_fn(to_device(ids, self.device))
        else:
            hidden = self._packed(ids, positions, segments, hidden_fn)
        with self._running():
            return output_fn(hidden[to_device(rows, hidden.device), to_device(cols, hidden.device)])

    def _probe_slicing(self) -> bool:
        """Logits from the split model at a few positions must equal full logits there (packed ones too,
        when the model packs)."""
        first = self.bos_id if self.bos_id is not None else 1
        ids = torch.tensor([[first, 1, 2, 3, 4], [first, 3, 2, 1, 5]])
        rows, cols = torch.tensor([0, 0, 1, 1]), torch.tensor([4, 1, 2, 4])
        positions, segments = torch.tensor([[0, 1, 2, 3, 4]] * 2), torch.tensor([[0, 0, 0, 1, 1], [0, 0, 2, 1, 1]])
        try:
            want = [self.logits(ids)[rows, cols].float()]
            got = [self._split_logits(ids, rows, cols, None, None).float()]
            if self.packing:
                want.append(self._packed(ids, positions, segments)[rows, cols].float())
                got.append(self._split_logits(ids, rows, cols, positions, segments).float())
            want, got = torch.cat(want).cpu(), torch.cat(got).cpu()
        except Exception as exc:  # forward_hidden / output_logits that cannot take the arguments
            warnings.warn(f"the model has forward_hidden and output_logits but they failed ({type(exc).__name__}: "
                          f"{exc}); scoring from full logits", stacklevel=3)
            return False
        tolerance = 5e-2 if self._autocast else 1e-3
        gap = (got - want).abs().max().item()
        if not gap <= tolerance * (1.0 + want.abs().max().item()):
            warnings.warn(f"output_logits(forward_hidden(ids)) differs from the model's logits by {gap:.3g}; "
                          "scoring from full logits", stacklevel=3)
            return False
        return True

    @property
    def kv_cache(self) -> bool:
        """Whether the model decodes incrementally with the same logits as a full pass (probed once)."""
        if self._kv_cache is None:
            self._kv_cache = self._probe_kv_cache()
        return self._kv_cache

    def cached_logits(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                      cache: Any) -> tuple[torch.Tensor, Any]:
        """Last-position logits [B, V] of `ids` fed after `cache`, and the grown cache (`forward_cached`)."""
        if self._cached_forward is None:
            raise ValueError("this model does not decode incrementally (forward_cached)")
        dev = self.device
        ids, positions, mask = (to_device(x, dev) for x in (ids, positions, mask))
        with self._running():
            out, cache = self._cached_forward(ids, positions, mask, cache)
        return _logits_of(out)[:, -1], cache

    def _probe_kv_cache(self) -> bool:
        """Prefill two left-padded prompts, decode two steps; the cache is used only if the logits equal
        those of full passes over the same sequences."""
        first = self.bos_id if self.bos_id is not None else 1
        seqs = [[first, 1, 2, 3, 4, 5, 1], [first, 2, 3, 5, 4]]
        try:
            ids, positions, mask = left_padded([s[:-2] for s in seqs])
            got = [self.cached_logits(ids, positions, mask, None)]
            cache, real = got[0][1], mask[:, -1]
            for k in (2, 1):
                real = torch.cat([real, torch.ones((2, 1), dtype=torch.bool)], 1)
                step = torch.tensor([[s[-k]] for s in seqs])
                got.append(self.cached_logits(step, (positions[:, -1:] + 3 - k), real[:, None], cache))
                cache = got[-1][1]
            full = [self.logits(torch.tensor([s]))[0].float() for s in seqs]
            want = torch.stack([torch.stack([f[len(f) - k] for f in full]) for k in (3, 2, 1)])
            have = torch.stack([g[0].float().cpu() for g in got])
            gap = (have - want.to(have.device)).abs().max().item()
        except Exception as exc:  # a forward_cached that cannot take the arguments
            warnings.warn(f"the model has forward_cached but a cached pass failed ({type(exc).__name__}: {exc}); "
                          "generating without a KV cache", stacklevel=3)
            return False
        tolerance = 5e-2 if self._autocast else 1e-3
        if not gap <= tolerance * (1.0 + want.abs().max().item()):
            warnings.warn(f"the model's cached logits differ from full passes by {gap:.3g}; generating without "
                          "a KV cache", stacklevel=3)
            return False
        return True

    def auto_batch_size(self, seq_len: int, ceiling: int = 64) -> int:
        """Largest batch within the per-pass token budget (bigger on CUDA), capped at `ceiling`."""
        return max(1, min(ceiling, self.token_budget // max(1, seq_len)))


def run_batches(lm: LM, widths: Sequence[int], batch_size: int | None, ceiling: int,
                step: Callable[[int, int], None]) -> None:
    """Call `step(start, stop)` on consecutive batches of items sorted longest first (`widths[k]`: the
    padded length of a batch starting at item k).

    An automatic batch that runs out of device memory is retried at half its size, and the smaller token
    budget is kept for the batches after it (as lm-evaluation-harness's `auto` batch size backs off):
    a vocabulary of 50k+ makes the logits alone several GB per 100k tokens. `step` must change nothing
    before its last allocation. A fixed `batch_size` that does not fit is an error, not a silent change.
    """
    pos = 0
    while pos < len(widths):
        stop = min(len(widths), pos + (batch_size or lm.auto_batch_size(widths[pos], ceiling)))
        size = stop - pos
        try:
            step(pos, stop)
        except torch.OutOfMemoryError as exc:
            if batch_size is not None or size == 1:
                raise ValueError(f"the device ran out of memory on a batch of {size} sequence(s) of up to "
                                 f"{widths[pos]} tokens; give a smaller batch size (or none, for an automatic "
                                 "one), a shorter max_len, or a device with more memory") from exc
        else:
            pos = stop
            continue
        # Out of the except block, the failed pass's tensors are released and can go back to the device.
        if lm.device.type == "cuda":
            torch.cuda.empty_cache()
        lm.token_budget = max(1, size // 2 * widths[pos])
        warnings.warn(f"out of device memory at {size} sequences of {widths[pos]} tokens; automatic batch "
                      f"size lowered to {lm.auto_batch_size(widths[pos], ceiling)}", stacklevel=3)


def left_padded(prompts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids [B, T] left-padded with 0, position ids [B, T] counted from each prompt's first token, and the
    causal mask [B, T, T] over real tokens (a padding query sees itself only, so no row is empty).

    Left padding lines every prompt's last token up at T - 1, where a cached decode step continues.
    """
    width = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
    pads = torch.tensor([width - len(p) for p in prompts])[:, None]
    columns = torch.arange(width)[None, :]
    real = columns >= pads
    positions = (columns - pads).clamp(min=0)
    mask = torch.ones((width, width), dtype=torch.bool).tril() & real[:, None, :]
    mask |= torch.eye(width, dtype=torch.bool)
    return ids, positions, mask


def select_rows(cache: Any, rows: torch.Tensor) -> Any:
    """Keep batch rows `rows` of a cache: nested tuples/lists of batch-first tensors, or an object with
    `batch_select_indices` (transformers' caches, changed in place)."""
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(rows)
        return cache
    if isinstance(cache, torch.Tensor):
        return cache[rows.to(cache.device)]
    if isinstance(cache, tuple | list):
        kept = [select_rows(c, rows) for c in cache]
        return tuple(kept) if isinstance(cache, tuple) else kept
    raise TypeError(f"cannot select batch rows of a {type(cache).__name__} cache")


def to_device(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """Host-to-GPU copy through pinned memory that does not wait: a pageable copy blocks the host until
    the GPU has finished its queue, so the next batch could not be prepared while this one runs."""
    if dev.type != "cuda" or t.device.type == "cuda":
        return t.to(dev)
    return t.pin_memory().to(dev, non_blocking=True)


def _logits_of(out: Any) -> torch.Tensor:
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, tuple | list):
        return out[0]
    return out


def _model_max_len(model: Any) -> int | None:
    config = getattr(model, "config", None)
    for owner, name in ((model, "max_len"), (model, "block_size"), (config, "sequence_len"),
                        (config, "block_size"), (config, "max_position_embeddings"), (config, "n_positions")):
        value = getattr(owner, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _adds_bos(tokenizer: Any) -> bool:
    """Whether a transformers tokenizer puts BOS first when encoding with its defaults (Llama: yes, GPT-2:
    no). Probed, not read from `add_bos_token`: that attribute is False on tokenizers whose post-processor
    adds BOS all the same."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    plain = tokenizer.encode("a", add_special_tokens=False)
    return tokenizer.encode("a")[:1] == [bos] and plain[:1] != [bos]


class _HFTokenizer:
    """Gives a transformers tokenizer the plain encode/decode/bos/eos interface."""

    def __init__(self, tokenizer: Any) -> None:
        self.inner = tokenizer
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id
        self.add_bos_token = _adds_bos(tokenizer)  # the tokenizer's own default, which lm-eval follows

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.inner.decode(ids)


def _is_hf_model(model: Any) -> bool:
    try:
        import transformers
    except ImportError:
        return False
    return isinstance(model, transformers.PreTrainedModel)


def _hf_cached(hf_model: Any) -> Callable[..., tuple[torch.Tensor, Any]]:
    """`forward_cached` for a Hugging Face causal LM over its own cache (a `DynamicCache`)."""
    import inspect

    try:  # reached only for a transformers model (`_is_hf_model`), so the package is there
        from transformers import DynamicCache
    except ImportError as exc:  # pragma: no cover
        raise RuntimeError("a Hugging Face model without transformers installed") from exc

    accepted = inspect.signature(hf_model.forward).parameters
    keep_last = "logits_to_keep" in accepted
    cache_arg = "cache" if "cache" in accepted else "past_key_values"  # renamed in transformers 5.x

    def forward_cached(ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                       cache: Any) -> tuple[torch.Tensor, Any]:
        if cache is None:
            cache = DynamicCache(config=hf_model.config)
        # The last query sees every real key, so its mask row is the key-padding mask transformers takes
        # (it adds causality itself, and then runs its fast path when nothing is padded).
        extra = {"logits_to_keep": 1} if keep_last else {}
        extra[cache_arg] = cache
        out = hf_model(input_ids=ids, position_ids=positions, attention_mask=mask[:, -1].long(), use_cache=True,
                       **extra)
        return out.logits, cache  # grown in place

    return forward_cached


def wrap(model: Any, tokenizer: Any, **kwargs: Any) -> LM:
    """Adapt a plain module or a Hugging Face causal LM (and its tokenizer) to `LM`.

    >>> lm = wrap(AutoModelForCausalLM.from_config(cfg), tokenizer)
    """
    if isinstance(model, LM):
        return model
    if _is_hf_model(model):
        hf_model = model

        def forward(ids: torch.Tensor, positions: torch.Tensor | None = None,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
            if mask is None:
                return hf_model(input_ids=ids, use_cache=False).logits
            # a 4-D boolean mask (True: may attend) with position ids; LM's probe checks the architecture honours it
            return hf_model(input_ids=ids, position_ids=positions, attention_mask=mask[:, None], use_cache=False).logits

        forward.supports_packing = True  # type: ignore[attr-defined]
        forward.forward_cached = _hf_cached(hf_model)  # type: ignore[attr-defined]
        base = hf_model.base_model

        def forward_hidden(ids: torch.Tensor, positions: torch.Tensor | None = None,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
            if mask is None:
                return base(input_ids=ids, use_cache=False).last_hidden_state
            return base(input_ids=ids, position_ids=positions, attention_mask=mask[:, None],
                        use_cache=False).last_hidden_state

        forward.forward_hidden = forward_hidden  # type: ignore[attr-defined]
        forward.output_logits = hf_model.get_output_embeddings()  # type: ignore[attr-defined]

        tok = tokenizer if hasattr(tokenizer, "bos_id") else _HFTokenizer(tokenizer)
        hf_model.to(kwargs.get("device") or default_device())
        hf_model.eval()
        kwargs.setdefault("max_len", _model_max_len(hf_model))
        return LM(forward, tok, **kwargs)
    return LM(model, tokenizer, **kwargs)
