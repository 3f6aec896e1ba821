"""The naming rules names here must follow, in one place."""

from __future__ import annotations

import re

# What the kubelet passes on from envFrom and a shell can read back.
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A DNS-1123 label: Service, Deployment and namespace names; at most 63 characters.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MAX_DNS_LABEL = 63
# A Secret or ConfigMap data key: [-._a-zA-Z0-9]+, at most 253 characters (IsConfigMapKey).
MAX_SECRET_KEY = 253


def is_env_var_name(name: str) -> bool:
    return _ENV_VAR_NAME.fullmatch(name) is not None


def is_dns_label(name: str, max_length: int = MAX_DNS_LABEL) -> bool:
    return len(name) <= max_length and _DNS_LABEL.fullmatch(name) is not None
