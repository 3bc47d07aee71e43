"""The colour ramp every attention view shares (terminal, HTML, PNG, the matrix maps)."""

from __future__ import annotations

# One colour ramp for every view: white (no attention) through amber to a deep orange at the
# row's largest weight. Orange carries no sentiment, unlike red/green.
RAMP: list[tuple[float, tuple[int, int, int]]] = [
    (0.0, (255, 255, 255)),
    (0.5, (253, 174, 97)),
    (1.0, (179, 48, 0)),
]
# The darkest colour needs at least this many even shares (1/T each) of the attention.
EVEN_SHARES = 3.0


def colour(intensity: float) -> tuple[int, int, int]:
    """The ramp's colour at `intensity` in [0, 1]."""
    t = min(max(float(intensity), 0.0), 1.0)
    for (t0, c0), (t1, c1) in zip(RAMP, RAMP[1:], strict=False):  # neighbouring stops
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            return r, g, b
    return RAMP[-1][1]
