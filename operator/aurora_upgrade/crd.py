"""The CustomResourceDefinition, generated from the pydantic models (`aurora-upgrade crd`).

pydantic's JSON schema is turned into a Kubernetes structural schema: references inlined,
optional fields unwrapped from `anyOf [..., null]`, titles dropped. CEL rules make the
identity of an upgrade immutable, so the API server itself refuses to retarget one.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from aurora_upgrade.models import (
    GROUP,
    IMMUTABLE_FIELDS,
    KIND,
    PLURAL,
    REQUIRED_FIELDS,
    SINGULAR,
    UNOBSERVED,
    VERSION,
    AuroraUpgradeSpec,
    AuroraUpgradeStatus,
)

_DROP = {"title", "$defs"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _structural({**target, **extra}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            merged = {**_structural(options[0], defs), **rest}
            if merged.get("default", "unset") is None:
                del merged["default"]
            return _structural(merged, defs)
    # `additionalProperties: false` (extra="forbid") is not allowed beside `properties` in a
    # structural schema; the API server prunes unknown fields instead.
    out = {
        k: _structural(v, defs)
        for k, v in node.items()
        if k not in _DROP and not (k == "additionalProperties" and v is False)
    }
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def model_schema(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return schema


def _immutable(name: str) -> dict[str, str]:
    return {"rule": "self == oldSelf", "message": f"{name} is immutable"}


def spec_schema() -> dict[str, Any]:
    schema = model_schema(AuroraUpgradeSpec)
    props = schema["properties"]
    for name in IMMUTABLE_FIELDS:
        props[name]["x-kubernetes-validations"] = [_immutable(name)]
    # A field-level rule runs only when the field exists before and after; these rules also
    # stop an optional identity field from being added or removed later.
    schema["x-kubernetes-validations"] = [
        {
            "rule": f"has(self.{name}) == has(oldSelf.{name})",
            "message": f"{name} is immutable (it cannot be added or removed after creation)",
        }
        for name in IMMUTABLE_FIELDS
        if name not in REQUIRED_FIELDS
    ]
    schema["required"] = list(REQUIRED_FIELDS)
    for name in ("switchover", "cleanup", "aws"):  # so the API server shows nested defaults
        props[name]["default"] = {}
    props["validation"]["x-kubernetes-validations"] = VALIDATION_RULES
    checks = props["validation"]["properties"]["checks"]
    # A map keyed by name: the API server itself refuses two checks of one name.
    checks["x-kubernetes-list-type"] = "map"
    checks["x-kubernetes-list-map-keys"] = ["name"]
    checks["items"]["x-kubernetes-validations"] = [
        {"rule": "has(self.sql) != has(self.webhook)", "message": "a check sets exactly one of sql or webhook"}
    ]
    return schema


# What models.ValidationSpec refuses for `aurora-upgrade run`, said to the API server.
VALIDATION_RULES = [
    {
        "rule": "(has(self.checks) && size(self.checks) > 0) || "
        "(has(self.database) && (!has(self.guardrails) || self.guardrails != 'Off'))",
        "message": "this validation block checks nothing: add checks, or a database with guardrails",
    },
    {
        "rule": "has(self.database) || !has(self.checks) || self.checks.all(c, !has(c.sql))",
        "message": "SQL checks need validation.database (how to connect to green)",
    },
    {
        "rule": "has(self.database) || !has(self.guardrails) || self.guardrails == 'Off'",
        "message": "guardrails need validation.database (how to connect to blue and green)",
    },
]


def status_schema() -> dict[str, Any]:
    schema = model_schema(AuroraUpgradeStatus)
    # The API server drops the status of a create, and shows this default in its place (in the
    # create's answer, gets and watches) until the operator's first write: generation 1 not yet
    # observed, so kstatus (which Flux's health checks and kpt read) says InProgress for a new
    # upgrade; without any status it would say Current.
    schema["default"] = {"observedGeneration": UNOBSERVED}
    return schema


PRINTER_COLUMNS = [
    {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterIdentifier"},
    {"name": "From", "type": "string", "jsonPath": ".status.sourceEngineVersion"},
    {"name": "To", "type": "string", "jsonPath": ".spec.targetEngineVersion"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "BlueGreen",
        "type": "string",
        "jsonPath": ".status.blueGreenDeploymentIdentifier",
        "priority": 1,
    },
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
]


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": ["aup"],
                "categories": ["dbupgrade"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "An upgrade of one Aurora PostgreSQL cluster through an RDS "
                            "Blue/Green deployment.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    header = "# Generated by `aurora-upgrade crd` from operator/aurora_upgrade/models.py. Do not edit.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
