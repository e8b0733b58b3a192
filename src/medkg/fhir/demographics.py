"""The Patient resource -> id, age (at the as-of date), sex, and a note when deceased."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .dates import age_years, parse_date
from .index import ResourceIndex

__all__ = ["Demographics", "read_demographics"]


@dataclass
class Demographics:
    """What the Patient resource says: id, birth date, sex and deceased status, with notes."""

    id: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    deceased: bool = False
    deceased_on: date | None = None
    notes: list[str] = field(default_factory=list)

    def age_on(self, day: date) -> int | None:
        """Age in completed years on ``day``; None without a birth date or before birth."""
        if self.birth_date is None:
            return None
        age = age_years(self.birth_date, day)
        return age if age >= 0 else None


def read_demographics(index: ResourceIndex) -> Demographics:
    """Read the (first) Patient resource; with none, everything stays unknown and a note says so."""
    patients = index.of_type("Patient")
    found = Demographics()
    if not patients:
        found.notes.append("no Patient resource: age and sex unknown (rules that need them are not assessed)")
        return found
    if len(patients) > 1:
        found.notes.append(f"{len(patients)} Patient resources; the first ({patients[0].label}) is read")
    data = patients[0].data
    found.id = str(data["id"]) if data.get("id") else None
    found.birth_date = parse_date(data.get("birthDate"))
    birth = data.get("birthDate")
    if isinstance(birth, str) and len(birth) < 10 and found.birth_date is not None:
        found.notes.append(f"birth date {birth} is partial; age counted from {found.birth_date.isoformat()}")
    if found.birth_date is None and birth is not None:
        found.notes.append(f"Patient birthDate {str(birth)[:40]!r} is not a valid date: age unknown")
    elif found.birth_date is None:
        found.notes.append("Patient has no birth date: age unknown")
    gender = data.get("gender")
    if gender in ("female", "male"):
        found.sex = str(gender)
    else:
        found.notes.append(f"Patient gender {gender or 'not given'}: sex unknown for sex-specific rules")
    deceased_on = parse_date(data.get("deceasedDateTime"))
    if deceased_on is not None or data.get("deceasedBoolean") is True:
        found.deceased, found.deceased_on = True, deceased_on
        when = f" on {deceased_on.isoformat()}" if deceased_on else ""
        found.notes.append(f"the patient is recorded as deceased{when}: the medications are checked as recorded")
    return found
