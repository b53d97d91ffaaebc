"""The committed CRD is exactly what the generator prints from the models."""

from __future__ import annotations

from pathlib import Path

import yaml

from aurora_upgrade.crd import crd, render
from aurora_upgrade.models import IMMUTABLE_FIELDS, AuroraUpgradeStatus

COMMITTED = Path(__file__).resolve().parents[2] / "crds" / "auroraupgrades.dbupgrade.dev.yaml"


def test_committed_crd_matches_the_generator() -> None:
    assert COMMITTED.read_text() == render(), "crds/ drifted from the models: run `make crd` and commit"


def test_crd_names_and_subresources() -> None:
    spec = crd()["spec"]
    assert spec["names"]["shortNames"] == ["aup"]
    assert spec["names"]["categories"] == ["dbupgrade"]
    assert spec["scope"] == "Namespaced"
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Cluster", 0), ("From", 0), ("To", 0), ("Phase", 0), ("Ready", 0), ("Age", 0),
        ("BlueGreen", 1), ("Message", 1),
    ]  # fmt: skip


def test_immutable_fields_carry_cel_rules() -> None:
    props = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    for name in IMMUTABLE_FIELDS:
        assert props[name]["x-kubernetes-validations"] == [
            {"rule": "self == oldSelf", "message": f"{name} is immutable"}
        ]


def test_every_status_field_is_declared() -> None:
    """Undeclared status fields would be pruned silently by the API server."""
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    declared = {f.alias or name for name, f in AuroraUpgradeStatus.model_fields.items()}
    assert declared <= set(schema)


def test_schema_is_structural() -> None:
    """No $ref, anyOf with null, or additionalProperties: false beside properties."""
    text = yaml.safe_dump(crd())
    assert "$ref" not in text
    assert "type: 'null'" not in text and "type: null" not in text
    assert "additionalProperties: false" not in text


def test_a_new_upgrade_reads_as_not_yet_observed() -> None:
    """The API server drops a create's status and shows the status schema's default instead: with
    observedGeneration 0 below generation 1, kstatus reads a new upgrade as InProgress until the
    operator's first write (tests/e2e/test_gitops_status.py checks it against a real API server)."""
    status = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["default"] == {"observedGeneration": 0}


def test_validation_carries_the_rules_that_refuse_unusable_checks() -> None:
    """What tests/e2e/test_operator_schema_refusals.py sees the API server refuse, in the schema."""
    spec = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    validation = spec["properties"]["validation"]
    messages = {rule["message"] for rule in validation["x-kubernetes-validations"]}
    assert messages == {
        "this validation block checks nothing: add checks, or a database with guardrails",
        "SQL checks need validation.database (how to connect to green)",
        "guardrails need validation.database (how to connect to blue and green)",
    }
    checks = validation["properties"]["checks"]
    assert (checks["x-kubernetes-list-type"], checks["x-kubernetes-list-map-keys"]) == ("map", ["name"])
    assert "name" in checks["items"]["required"], "a map list's key must be required"
    (one_kind,) = checks["items"]["x-kubernetes-validations"]
    assert one_kind["rule"] == "has(self.sql) != has(self.webhook)"
    status = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {"validation", "blueCatalogFingerprint", "validatedGeneration", "validationHeld", "validatedAt"} <= set(
        status
    )
