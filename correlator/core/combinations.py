"""Combinations of division parts (DESIGN §5): which ones a scope enumerates, their exact
weights, and deterministic sampling past the bound. Pure."""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from fractions import Fraction

from correlator.core.figures import ONE

REST = "\x00rest"
"""The merged part of a division whose members are all unaffected."""

Key = tuple[tuple[str, str], ...]
"""A combination as evaluated: its (division id, part) pairs without "rest", sorted."""


@dataclass(slots=True)
class Combos:
    """The combinations of one scope: their keys, exact weights and whether they are sampled."""

    keys: list[Key]
    weights: list[Fraction]
    sampled: bool
    bits: list[int]
    """Bit index of each key in the evaluator's key space (filled when registered)."""
    mask: int = 0
    """All of `bits` as one mask."""
    numerators: list[int] | None = None
    denominator: int = 1


def enumerate_combinations(
    divisions: list[str], choices: list[list[tuple[str, Fraction]]], bound: int, seed: int
) -> tuple[list[Key], list[Fraction], bool]:
    total = math.prod(len(c) for c in choices)
    weighted: list[tuple[tuple[tuple[str, str], ...], Fraction]] = []
    sampled = False
    if total <= bound:
        stack: list[tuple[int, tuple[tuple[str, str], ...], Fraction]] = [(0, (), ONE)]
        while stack:
            i, assignment, weight = stack.pop()
            if i == len(divisions):
                weighted.append((assignment, weight))
                continue
            for part, share in reversed(choices[i]):
                stack.append((i + 1, (*assignment, (divisions[i], part)), weight * share))
    else:
        weighted = sample_combinations(divisions, choices, bound, seed)
        sampled = True
    keys = [tuple(pair for pair in assignment if pair[1] != REST) for assignment, _ in weighted]
    return keys, [w for _, w in weighted], sampled


def sample_combinations(
    divisions: list[str], choices: list[list[tuple[str, Fraction]]], n: int, seed: int
) -> list[tuple[tuple[tuple[str, str], ...], Fraction]]:
    """Deterministic sampling of combinations, weighted by shares (fixed seed per scope)."""
    rng = random.Random(seed ^ zlib.crc32(",".join(divisions).encode()))
    cumulative = []
    for options in choices:
        acc = 0.0
        row = []
        for part, share in options:
            acc += float(share)
            row.append((acc, part))
        cumulative.append(row)
    counts: dict[tuple[tuple[str, str], ...], int] = {}
    for _ in range(n):
        picked = []
        for division, row in zip(divisions, cumulative, strict=True):
            r = rng.random() * row[-1][0]
            part = next((p for edge, p in row if r < edge), row[-1][1])
            picked.append((division, part))
        key = tuple(picked)
        counts[key] = counts.get(key, 0) + 1
    return [(a, Fraction(c, n)) for a, c in sorted(counts.items())]
