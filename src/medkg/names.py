"""Resolve names as entered (ingredient, brand, synonym, any case) to knowledge-base IRIs.

Matching is exact on the whole normalised name (case and surrounding spaces ignored; a
trailing dose or form such as "baclofen 10 mg tablet" is not stripped - it is reported
unidentified rather than guessed). Two spellings are also read when the exact name is unknown:
a hyphen written as a space ("Toprol XL" for "Toprol-XL", :func:`spelling_key`) and a trailing
release or dose-form designation that names no ingredient ("Remeron SolTab", "metoprolol
succinate ER", :func:`without_release_form`). Close matches are only suggested, never substituted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping

__all__ = [
    "combination_parts",
    "icd10_ancestors",
    "icd10_with_dot",
    "normalise",
    "resolve",
    "resolve_allergen",
    "resolve_condition",
    "spelling_key",
    "suggest",
    "without_release_form",
]

_SPACES = re.compile(r"\s+")
#: A coded name as the FHIR reader writes it: "Chronic kidney disease stage 3 [SNOMED CT 433144002; ICD-10 N18.3]".
_CODED = re.compile(r"^(?P<text>.*?)\s*\[(?P<codes>[^\[\]]+)\]$")
_CODE = re.compile(r"^(?P<system>SNOMED CT|ICD-10)\s+(?P<code>\S+)$", re.IGNORECASE)


#: How a condition entered as past says so: "<name> (resolved)" (see :func:`as_past`).
PAST_STATUSES = ("resolved", "inactive", "in remission", "status unknown")
_PAST = re.compile(rf"^(?P<name>.*\S)\s*\((?P<status>{'|'.join(PAST_STATUSES)})\)$", re.IGNORECASE)


def as_past(name: str, status: str) -> str:
    """Write a condition as a past episode, as :func:`split_past` reads it: ``"angioedema (resolved)"``.

    Raises:
        ValueError: for a status outside :data:`PAST_STATUSES`.
    """
    if status not in PAST_STATUSES:
        raise ValueError(f"past status must be one of {PAST_STATUSES}, not {status!r}")
    return f"{name} ({status})"


def split_past(name: str) -> tuple[str, str | None]:
    """Split a condition entered as past into (name, status): ``"angioedema (resolved)"`` -> ``("angioedema", "resolved")``.

    Statuses: resolved, inactive, in remission, status unknown (a FHIR Condition without a
    clinical status); any other name is returned whole with status None.
    """
    match = _PAST.match(name.strip())
    if match is None:
        return name, None
    return match["name"], match["status"].casefold()


def normalise(name: str) -> str:
    """Lower-case, trim and collapse white space (``"  Some Brand "`` -> ``"some brand"``)."""
    return _SPACES.sub(" ", name.strip()).casefold()


#: Between the parts of a combination written out: "amlodipine/valsartan", "oxycodone + acetaminophen",
#: "sulfamethoxazole-trimethoprim", "oxycodone and acetaminophen".
_COMBINED = re.compile(r"\s*[/+-]\s*|\s+and\s+")


def combination_parts(name: str) -> list[str]:
    """Split a combination written out with "/", "+", "-" or "and" into its normalised parts (one part: not such a name).

    ``"Amlodipine / Valsartan"`` -> ``["amlodipine", "valsartan"]``; an empty part makes the whole
    name one part, so ``"a/"`` is not read as ``a``. Callers use the parts only if every part is a
    known name (:meth:`medkg.knowledge_base.KnowledgeBase.ingredients_of`), so a hyphenated name
    such as "co-trimoxazole" is never split into unknown halves.
    """
    text = normalise(name)
    parts = _COMBINED.split(text)
    return parts if len(parts) > 1 and all(parts) else [text]


_HYPHENS = re.compile(r"\s*-\s*|\s+")

#: Trailing words of a product name that give its release or dose form, never an ingredient:
#: extended/controlled/sustained/delayed release (ER, XR, XL, SR, CR, LA, DR, "24 hr") and orally
#: disintegrating tablets (ODT, SolTab). Letters that name an ingredient ("-D" for a decongestant,
#: "HCT", "PM") are not among them, so "Zyrtec-D" is never read as cetirizine alone.
_RELEASE_FORM = re.compile(
    r"(?:[\s-]+(?:er|xr|xl|sr|cr|la|dr|odt|soltab|extended[\s-]release|delayed[\s-]release|"
    r"sustained[\s-]release|controlled[\s-]release|orally[\s-]disintegrating(?:\s+tablets?)?|24[\s-]?hr))+$"
)


def spelling_key(name: str) -> str:
    """Normalise and write hyphens as spaces: ``"Toprol-XL"`` and ``"toprol xl"`` -> ``"toprol xl"``."""
    return _HYPHENS.sub(" ", normalise(name)).strip()


def without_release_form(name: str) -> str:
    """Return the normalised name without trailing release or dose-form words (the name itself if none).

    ``"Remeron SolTab"`` -> ``"remeron"``; ``"metoprolol succinate ER"`` -> ``"metoprolol succinate"``;
    ``"Zyrtec-D"`` -> ``"zyrtec-d"`` (the "D" is an ingredient); a name that is only such a word
    (``"ER"``) is returned whole.
    """
    text = normalise(name)
    stripped = _RELEASE_FORM.sub("", text)
    return stripped if stripped else text


def resolve(name: str, names: Mapping[str, str]) -> str | None:
    """Return the IRI that ``name`` denotes in ``names`` (lower-case name -> IRI), or None."""
    return names.get(normalise(name))


#: "penicillin allergy", "sulfa allergies": the word a list of allergies often repeats.
_ALLERGY_WORD = re.compile(r"\s+(?:allergy|allergies)$")


def resolve_allergen(name: str, names: Mapping[str, str]) -> str | None:
    """Resolve a documented allergy's name (lower-case name -> drug or class IRI), also written with "allergy".

    ``"Penicillin allergy"`` resolves as ``"penicillin"``; None if neither form is known.
    """
    found = resolve(name, names)
    return found if found is not None else names.get(_ALLERGY_WORD.sub("", normalise(name)))


def icd10_ancestors(code: str) -> list[str]:
    """Return the ICD-10 codes above ``code`` in its hierarchy, nearest first, down to its 3-character category.

    ICD-10 (and ICD-10-CM) codes are hierarchical by prefix: each character after the category
    narrows its parent, so ``"T78.3XXA"`` is under ``T78.3XX``, ``T78.3X``, ``T78.3`` and ``T78``,
    and ``"K26.0"`` (acute duodenal ulcer with haemorrhage) under ``K26`` (duodenal ulcer). The
    placeholder ``X`` and the dot are kept as written. A code of 3 characters or fewer has none.
    """
    text = code.strip()
    ancestors = []
    while len(text.replace(".", "")) > 3:
        text = text[:-1].rstrip(".")
        ancestors.append(text)
    return ancestors


#: An ICD-10 code written without its dot: a letter, a digit, a third character and 1-4 more ("K264", "I2510").
_DOTLESS_ICD10 = re.compile(r"^[A-Za-z]\d[0-9A-Za-z][0-9A-Za-z]{1,4}$")


def icd10_with_dot(code: str) -> str:
    """Write an ICD-10 code with the dot after its 3-character category: ``"K264"`` -> ``"K26.4"``.

    Records often drop the dot; the knowledge base lists codes with it. A code that already has a
    dot, or is not letter-digit-and-more shaped (e.g. a 3-character category), is returned as is.
    """
    text = code.strip()
    return f"{text[:3]}.{text[3:]}" if _DOTLESS_ICD10.match(text) else text


def _most_specific(found: list[str], narrower: Callable[[str, str], bool] | None) -> str:
    """Return the one of ``found`` (in the order written) at or below all the others, else the first."""
    if narrower is not None:
        for candidate in found:
            if all(narrower(candidate, other) for other in found):
                return candidate
    return found[0]


def resolve_condition(
    name: str, names: Mapping[str, str], narrower: Callable[[str, str], bool] | None = None
) -> str | None:
    """Resolve a condition name, also written with codes: ``"<text> [SNOMED CT <code>; ICD-10 <code>]"``.

    The whole name is tried first, then the codes in the brackets, then the text alone, and last
    each ICD-10 code's ancestors, nearest first (:func:`icd10_ancestors`): a condition the
    knowledge base lists by its ICD-10 category takes in every more specific code below it. An
    ICD-10 code written without its dot (``K264``) is read with it (:func:`icd10_with_dot`).
    SNOMED CT codes are matched exactly (medkg holds no SNOMED CT hierarchy).

    Args:
        name: the condition as entered.
        names: lower-case name or code -> condition class IRI.
        narrower: ``narrower(a, b)`` is True when class ``a`` is ``b`` or below it. Given, of
            several codes that name different classes (a SNOMED CT code for peptic ulcer and an
            ICD-10 code for a bleeding one), the most specific class is taken whatever the codes'
            order; without it, the first code's.
    """
    found = resolve(name, names)
    match = _CODED.match(name.strip())
    if found is not None or match is None:
        return found
    codes = [
        (system, icd10_with_dot(written["code"]) if system == "ICD-10" else written["code"])
        for part in match["codes"].split(";")
        if (written := _CODE.match(part.strip())) is not None and (system := written["system"].upper())
    ]
    exact = [iri for _, code in codes if (iri := resolve(code, names)) is not None]
    if exact:
        return _most_specific(exact, narrower)
    if match["text"] and (found := resolve(match["text"], names)) is not None:
        return found
    for system, code in codes:
        if system == "ICD-10":
            for ancestor in icd10_ancestors(code):
                if (found := resolve(ancestor, names)) is not None:
                    return found
    return None


#: A strength or form written after a name: "50 mg", "5/325", "10mg", "XL 50 mg" stays "XL".
_STRENGTH = re.compile(r"(\s+[\d.,/]+\s*(mg|mcg|g|ml|%|units?)?\b.*)$", re.IGNORECASE)


def suggest(name: str, names: Mapping[str, str], *, limit: int = 3) -> list[str]:
    """Up to ``limit`` known names closest to ``name`` (difflib ratio >= 0.75), best first.

    A name with a strength written after it (``"Zoloft 50 mg"``, ``"Percocet 5/325"``) is matched
    without the strength too; the name stays unidentified (the strength is not a dose medkg can
    use), the suggestion says what to enter.
    """
    text = normalise(name)
    bare = _STRENGTH.sub("", text)
    found = difflib.get_close_matches(bare, list(names), n=limit, cutoff=0.75) if bare and bare != text else []
    found += difflib.get_close_matches(text, list(names), n=limit, cutoff=0.75)
    return list(dict.fromkeys(found))[:limit]
