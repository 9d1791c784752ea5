"""Small-sample statistics for pass rates: the Wilson score interval and the two-proportion z-test.

Why: a release gate on a 30-row eval set is noisy (18 of 30 is 0.60, but the 95% interval is
about 0.42 to 0.75). Every rate picogate reports carries its row count and this interval, and a
change against a previous run is called significant only when the two-proportion test says so.
Pure Python (math.erfc), no scipy.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95%: the 0.975 quantile of the standard normal


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of `hits` successes in `n` trials; (None, None) when n is 0.

    >>> [round(x, 4) for x in wilson(18, 30)]
    [0.4232, 0.7541]
    """
    if n < 0 or hits < 0 or hits > n:
        raise ValueError(f"wilson: need 0 <= hits <= n, got hits={hits}, n={n}")
    if n == 0:
        return None, None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp float dust: at hits == 0 the lower bound is exactly 0, at hits == n the upper exactly 1.
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    return low, high


def two_proportion(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float | None, float | None]:
    """(z, two-sided p-value) of the pooled two-proportion z-test of a = b; (None, None) if undefined.

    `a` is the current run, `b` the baseline: z > 0 means a is higher. When both runs are all
    passes or all failures the pooled variance is 0 and nothing can be said: z = 0, p = 1.

    >>> [round(x, 4) for x in two_proportion(27, 30, 18, 30)]
    [2.6833, 0.0073]
    """
    for hits, n in ((hits_a, n_a), (hits_b, n_b)):
        if n < 0 or hits < 0 or hits > n:
            raise ValueError(f"two_proportion: need 0 <= hits <= n, got hits={hits}, n={n}")
    if n_a == 0 or n_b == 0:
        return None, None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    var = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if var == 0:
        return 0.0, 1.0
    z = (hits_a / n_a - hits_b / n_b) / math.sqrt(var)
    return z, math.erfc(abs(z) / math.sqrt(2))


def hits_of(rate: float | None, n: int | None) -> int | None:
    """The success count behind a rate over n rows, or None when it is not a whole count.

    Why: aggregates store rates, and a rate that is not k/n for an integer k was not computed
    from n rows (the honesty report flags such tables; the interval is then left missing).
    """
    if rate is None or n is None or not math.isfinite(rate) or n <= 0:
        return None
    k = round(rate * n)
    return k if 0 <= k <= n and abs(k / n - rate) <= 1e-9 else None
