"""Resolve names as entered (ingredient, brand, synonym, any case) to knowledge-base IRIs.

Matching is exact on the whole normalised name (case and surrounding spaces ignored; a
trailing dose or form such as "baclofen 10 mg tablet" is not stripped - it is reported
unidentified rather than guessed). Close matches are only suggested, never substituted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

__all__ = ["normalise", "resolve", "suggest"]

_SPACES = re.compile(r"\s+")


def normalise(name: str) -> str:
    """Lower-case, trim and collapse white space (``"  Some Brand "`` -> ``"some brand"``)."""
    return _SPACES.sub(" ", name.strip()).casefold()


def resolve(name: str, names: Mapping[str, str]) -> str | None:
    """Return the IRI that ``name`` denotes in ``names`` (lower-case name -> IRI), or None."""
    return names.get(normalise(name))


def suggest(name: str, names: Mapping[str, str], *, limit: int = 3) -> list[str]:
    """Up to ``limit`` known names closest to ``name`` (difflib ratio >= 0.75), best first."""
    return difflib.get_close_matches(normalise(name), list(names), n=limit, cutoff=0.75)
