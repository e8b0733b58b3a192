"""The closed set of IRIs Python code refers to: namespaces and T-box terms.

Only T-box terms appear here (no drug, class or threshold of the knowledge base):
clinical content lives in ``kg/`` and is reached through queries.
"""

from __future__ import annotations

from rdflib import Namespace, URIRef

__all__ = ["KG", "MEDKG", "PATIENT", "PROV", "SKOS", "medkg_term"]

MEDKG = Namespace("https://w3id.org/medkg/ontology#")
KG = Namespace("https://w3id.org/medkg/kg/")
PATIENT = Namespace("https://w3id.org/medkg/patient/")
PROV = Namespace("http://www.w3.org/ns/prov#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
RXNORM = Namespace("http://purl.bioontology.org/ontology/RXNORM/")
ATC = Namespace("http://purl.bioontology.org/ontology/ATC/")
CHEBI = Namespace("http://purl.obolibrary.org/obo/CHEBI_")

_TERMS = frozenset(
    [
        "Drug",
        "PharmacologicalEffect",
        "Enzyme",
        "Patient",
        "MedicationUse",
        "Condition",
        "NonDrugTherapy",
        "takesMedication",
        "ofDrug",
        "indication",
        "hasCondition",
        "hasEffect",
        "ageYears",
        "creatinineClearanceMlMin",
        "egfrMlMin173",
        "serumCreatinineMgDl",
        "weightKg",
        "sex",
        "childPughClass",
        "pregnant",
        "breastfeeding",
        "onDialysis",
        "allergicTo",
        "serumPotassiumMmolL",
        "qtcMs",
        "inr",
        "doseMg",
        "timesPerDay",
        "inputName",
        "inputOrder",
        "rxcui",
        "atcCode",
        "brandName",
        "curationLevel",
        "Citation",
        "hasCitation",
        "citesSource",
        "locator",
        "evidenceLevel",
        "uncertain",
        "uncertaintyNote",
    ]
)


def medkg_term(name: str) -> URIRef:
    """Return the IRI of a T-box term, refusing names the ontology does not define here.

    Raises:
        KeyError: for a name that is not a known T-box term (a typo would otherwise mint a new IRI).
    """
    if name not in _TERMS:
        raise KeyError(f"not a medkg T-box term used by code: {name!r}")
    return MEDKG[name]
