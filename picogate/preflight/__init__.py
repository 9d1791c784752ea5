"""Preflight evidence: numeric building blocks the preflight collectors call before any GPU is spent.

`text` (normalization and word hashing), `minhash` and `lsh` (near-duplicate pressure, datasketch
compatible) and `contamination` (eval prompts found in SFT rows or the corpus). `ray_engine`,
`ray_sources` and `ray_dedup` run the same batch functions on Ray Data (`--engine ray`); they are the
only modules that import Ray. Import the module you need; nothing heavy is imported here.
"""
