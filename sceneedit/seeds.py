"""Seeds: the one limit every part accepts, and seed lists from the command line
(``"0-15,20,30-32"`` -> ``[0, 1, ..., 15, 20, 30, 31, 32]``)."""

from __future__ import annotations

from .errors import SceneeditError

#: Largest seed accepted anywhere (CLI, recipes, the editor's seed boxes): 2**31 - 1.
#: numpy's RandomState (a seed's ``z``) takes [0, 2**32 - 1] and torch's generators more,
#: but Qt's spin boxes hold a signed 32-bit int, so a larger seed could be typed on the
#: command line or stored in a recipe and then not be shown or stepped in the editor.
MAX_SEED = 2**31 - 1
#: Refuse absurd lists (a typo like ``0-1000000000``) before allocating them.
MAX_SEEDS = 1_000_000


class SeedSyntaxError(SceneeditError, ValueError):
    """A seed specification could not be parsed."""


def parse_seeds(text: str) -> list[int]:
    """Parse comma-separated seeds and inclusive ranges, keeping order and duplicates.

    ``"3"`` -> ``[3]``; ``"0-3"`` -> ``[0, 1, 2, 3]``; ``"5, 1-2"`` -> ``[5, 1, 2]``.
    Whitespace is ignored. Seeds must lie in ``[0, MAX_SEED]``; a range must not run
    backwards. Raises :class:`SeedSyntaxError` (a ``ValueError``) naming the bad part.
    """
    if text is None or not str(text).strip():
        raise SeedSyntaxError("empty seed list; expected e.g. '0-15' or '1,5,9'")
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise SeedSyntaxError(f"empty item in seed list {text!r}")
        if "-" in part[1:]:
            split_at = part.index("-", 1)
            start, stop = _parse_one(part[:split_at], text), _parse_one(part[split_at + 1 :], text)
            if stop < start:
                raise SeedSyntaxError(f"seed range {part!r} runs backwards in {text!r}")
            if len(seeds) + (stop - start + 1) > MAX_SEEDS:
                raise SeedSyntaxError(f"seed list {text!r} has more than {MAX_SEEDS} seeds")
            seeds.extend(range(start, stop + 1))
        else:
            seeds.append(_parse_one(part, text))
    if len(seeds) > MAX_SEEDS:
        raise SeedSyntaxError(f"seed list {text!r} has more than {MAX_SEEDS} seeds")
    return seeds


def _parse_one(item: str, text: str) -> int:
    item = item.strip()
    try:
        value = int(item, 10)
    except ValueError:
        raise SeedSyntaxError(f"{item!r} is not a whole number in seed list {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise SeedSyntaxError(f"seed {value} out of range [0, {MAX_SEED}] in {text!r}")
    return value
