"""Digests of secret data for pod-template annotations, so that rotating a key rolls the pods.

A plain hash of secret values would be an oracle: anyone who can read a Deployment could test
guesses for a low-entropy value offline. The digest is therefore an HMAC whose key is derived
from the LiteLLM master key, which is validated to be long and random: without it a digest
reveals nothing and confirms nothing. Rotating the master key changes every digest and rolls
every pod that consumes secrets, which is what a rotation of the gateway's credential wants.
The same inputs always give the same digest, so unchanged secrets never roll a pod.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

from lib.secrets.model import SecretGroup

_KEY_CONTEXT = b"seance.dev/secrets-digest v1\x00"


def secrets_digest(groups: Sequence[SecretGroup], master_key: str) -> str:
    """HMAC-SHA256 over the groups a pod consumes, in envFrom order, keyed by the master key."""
    digest_key = hashlib.sha256(_KEY_CONTEXT + master_key.encode("utf-8")).digest()
    canonical = json.dumps(
        [[group.name, sorted(group.decrypted_values().items())] for group in groups],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return hmac.new(digest_key, canonical, hashlib.sha256).hexdigest()


def values_digest(labelled_values: Sequence[tuple[str, str]], master_key: str) -> str:
    """The same keyed HMAC over ``(label, value)`` pairs: single values rather than groups (the
    app keys the reconcile Job is named after)."""
    return secrets_digest(
        [
            SecretGroup(name=label, keys=("value",), values={"value": value})
            for label, value in labelled_values
        ],
        master_key,
    )
