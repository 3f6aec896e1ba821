"""How an environment serves the proxy's path and hands its secrets to the cluster."""

from __future__ import annotations

from enum import Enum


class PathPrefixMode(Enum):
    """How LiteLLM is served under ``/litellm`` (see docs/models-and-routing.md, "Path prefix").

    ``REWRITE``: ingress-nginx strips the prefix; the proxy sees ``/v1/...``. API routes work;
    the admin UI and ``/openapi.json`` links point at the unprefixed paths and break.
    ``ROOT_PATH``: the prefix is kept and LiteLLM is told about it (``SERVER_ROOT_PATH``), so the
    UI and the OpenAPI document work under ``/litellm`` too; any ingress controller will do.
    """

    REWRITE = "rewrite"
    ROOT_PATH = "root_path"


class SecretMode(Enum):
    """How the secret values reach the cluster (see docs/secrets.md, "Secret modes").

    ``PLAIN``: Secrets with the decrypted values, in dist/10-secrets.k8s.yaml (mode 0600).
    ``EXTERNAL``: ExternalSecret objects for the External Secrets Operator; the SOPS file is
    read for key names only, never decrypted, and no value is written anywhere.
    ``SOPS``: the Secrets written SOPS-encrypted (data/stringData only, recipients from
    .sops.yaml) for Flux's kustomize-controller to decrypt at apply time.
    """

    PLAIN = "plain"
    EXTERNAL = "external"
    SOPS = "sops"
