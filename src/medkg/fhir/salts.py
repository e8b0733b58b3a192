"""Salt words after an ingredient name: which to strip, read from ``data/salts.tsv``.

RxNorm names a clinical drug by its precise ingredient ("metoprolol succinate", "olmesartan
medoxomil"). medkg's knowledge base lists base ingredients; a salt form is first looked up whole
(it may be a synonym) and only then reduced by removing trailing salt words. The word list is
data, not code.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import cache
from pathlib import Path

__all__ = ["SaltWords", "base_ingredient", "salt_words"]

_TABLE = Path(__file__).parent / "data" / "salts.tsv"


class SaltWords:
    """The salt words (to strip) and whole names that are never stripped, all lower case."""

    def __init__(self, strip: frozenset[str], keep: frozenset[str]) -> None:
        self.strip = strip
        self.keep = keep


@cache
def salt_words(path: Path = _TABLE) -> SaltWords:
    """Read the salt table (``kind``/``word`` TSV, ``#`` comment lines).

    Raises:
        ValueError: for a row whose kind is not ``salt`` or ``keep``.
    """
    strip: set[str] = set()
    keep: set[str] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t"):
        kind, word = row["kind"].strip(), " ".join(row["word"].split()).casefold()
        if kind == "salt":
            strip.add(word)
        elif kind == "keep":
            keep.add(word)
        else:
            raise ValueError(f"{path}: unknown kind {kind!r} (use salt or keep)")
    return SaltWords(frozenset(strip), frozenset(keep))


def base_ingredient(name: str, known: Callable[[str], bool] | None = None) -> str:
    """Return the ingredient name medkg should look up for an RxNorm ingredient ``name``.

    Args:
        name: ingredient as written in an RxNorm name, e.g. ``"metoprolol succinate"``.
        known: optional predicate "the knowledge base knows this name"; a known name is kept whole.

    Returns:
        ``name`` lower-cased with trailing salt words removed ("metoprolol"), unless the whole
        name is known or in the keep list (e.g. "calcium carbonate"); never an empty string.
    """
    words = " ".join(name.split()).casefold()
    table = salt_words()
    if (known is not None and known(words)) or words in table.keep:
        return words
    parts = words.split(" ")
    while len(parts) > 1 and parts[-1].strip(",") in table.strip:
        parts.pop()
        candidate = " ".join(parts).rstrip(",")
        if (known is not None and known(candidate)) or candidate in table.keep:
            return candidate
    return " ".join(parts).rstrip(",")
