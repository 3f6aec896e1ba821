"""Strict, offline schema validation for every object this app emits.

Built-in kinds go through kubernetes-validate's strict schemas of Kubernetes 1.28 (the oldest
release the manifests are written for: Pod Security "restricted" v1.28) and of the newest
release kubernetes-validate ships (1.37), so a field removed or changed since is caught too.
Custom resources have no schema there, so theirs live under tests/schemas/ (see its README:
ESO's CRD schema vendored, the ServiceMonitor's and the Gateway API HTTPRoute's written by hand
from their API references) and are made strict here: a CRD's openAPIV3Schema only
describes what the API server keeps, and the server silently prunes unknown fields, so a typo
such as ``refreshIntervall`` would be applied as "field missing" instead of failing. Closing
every object schema turns such a typo into a test failure.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.28"
# The newest release kubernetes-validate 1.37.0 ships schemas for (kubernetes_validate
# .latest_version(); tests/test_schema_validation.py fails when an upgrade ships a newer one).
NEWEST_KUBERNETES_VERSION = "1.37"
KUBERNETES_VERSIONS = (KUBERNETES_VERSION, NEWEST_KUBERNETES_VERSION)
# The definitions file of kubernetes-validate's strict schemas for KUBERNETES_VERSION.
_KUBERNETES_DEFINITIONS = "kubernetes-json-schema/v1.28.0-local-strict/_definitions.json"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_SCHEMAS = Path(__file__).with_name("schemas")
# (apiVersion, kind) -> its openAPIV3Schema-shaped file under tests/schemas/.
_CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], str] = {
    ("external-secrets.io/v1", "ExternalSecret"): "externalsecret-v1.schema.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-v1.schema.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-v1.schema.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute-v1.schema.json",
}
# Schema keywords whose values are schemas (or lists or maps of them), the only places
# strictify descends into; "default" and "enum" hold data that may look like a schema.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


class SchemaValidationError(AssertionError):
    """An object that the strict schema refuses; the message lists every error."""


def validate_strict(obj: Mapping[str, Any]) -> None:
    """Validate ``obj`` against its strict schema; raise ``SchemaValidationError`` if invalid.

    Custom resources report all their errors; built-in kinds report the first one, as
    kubernetes-validate does. An apiVersion/kind with no schema is an error too, so a
    custom resource of a version without a schema here (e.g. ESO's old v1beta1) fails.
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    what = f"{api_version} {kind} '{_name(obj)}'"
    if (api_version, kind) in _CUSTOM_RESOURCE_SCHEMAS:
        errors = sorted(
            _custom_resource_validator(str(api_version), str(kind)).iter_errors(obj),
            key=lambda error: [str(part) for part in error.absolute_path],
        )
        if errors:
            listed = "\n".join(f"  {error.json_path}: {error.message}" for error in errors)
            raise SchemaValidationError(f"{what} is invalid:\n{listed}")
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(dict(obj), version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            known = ", ".join(f"{av} {k}" for av, k in _CUSTOM_RESOURCE_SCHEMAS)
            raise SchemaValidationError(
                f"{what}: no schema for this apiVersion and kind, neither a Kubernetes "
                f"{version} built-in nor a custom resource with a schema in "
                f"tests/schemas/ ({known})"
            ) from None
        except kubernetes_validate.ValidationError as error:
            raise SchemaValidationError(
                f"{what} is invalid in Kubernetes {version}:\n  {error.json_path}: {error.message}"
            ) from None


def _name(obj: Mapping[str, Any]) -> object:
    metadata = obj.get("metadata")
    return metadata.get("name") if isinstance(metadata, Mapping) else None


@functools.cache
def _custom_resource_validator(api_version: str, kind: str) -> Any:
    """The strict validator of one custom resource schema, built once per test session."""
    schema_file = _SCHEMAS / _CUSTOM_RESOURCE_SCHEMAS[(api_version, kind)]
    crd_schema = json.loads(schema_file.read_text(encoding="utf-8"))
    definitions = _kubernetes_definitions()
    schema = strict_resource_schema(
        crd_schema,
        api_version=api_version,
        kind=kind,
        object_meta_ref=f"{definitions['$id']}#/$defs/{_OBJECT_META}",
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _kubernetes_definitions() -> dict[str, Any]:
    text = resources.files("kubernetes_validate").joinpath(_KUBERNETES_DEFINITIONS).read_text()
    definitions: dict[str, Any] = json.loads(text)
    return definitions


def strict_resource_schema(
    crd_schema: Mapping[str, Any], *, api_version: str, kind: str, object_meta_ref: str
) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for a manifest of one CRD version, closed everywhere.

    On top of ``strictify``: apiVersion and kind are pinned (the CRD schema accepts any
    string), metadata is Kubernetes' own strict ObjectMeta with a required name (the CRD says
    only ``type: object``), ``status`` is refused (the controller writes it; a manifest must
    not), and spec is required (a custom resource without one does nothing).
    """
    schema = strictify(crd_schema)
    properties = dict(schema["properties"])
    properties.pop("status", None)
    properties["apiVersion"] = {"const": api_version}
    properties["kind"] = {"const": kind}
    properties["metadata"] = {"$ref": object_meta_ref, "type": "object", "required": ["name"]}
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": properties,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


def strictify(node: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 structural schema as a JSON Schema that refuses unknown fields.

    Every schema with ``properties`` gets ``additionalProperties: false`` unless it sets its
    own or keeps unknown fields on purpose (``x-kubernetes-preserve-unknown-fields``). The two
    OpenAPI/Kubernetes keywords that change what is valid are translated, because JSON Schema
    ignores them: ``nullable`` (null allowed) and ``x-kubernetes-int-or-string``.
    """
    out = dict(node)
    if "properties" in out:
        out["properties"] = {name: strictify(sub) for name, sub in out["properties"].items()}
        if "additionalProperties" not in out and not out.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    for keyword in _SUBSCHEMA:
        if isinstance(out.get(keyword), Mapping):
            out[keyword] = strictify(out[keyword])
    for keyword in _SUBSCHEMA_LISTS:
        if keyword in out:
            out[keyword] = [strictify(sub) for sub in out[keyword]]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out
