"""Preflight collectors: one module per evidence kind, each a pure function to metric values.

Streaming collectors (documents, boundaries, dedup, contamination) keep a small state that
`update` folds one batch into and `merge` combines across partitions, so the same code can run
per partition on a distributed engine; `metrics(state)` turns it into catalog-named values.
"""
