"""Rollout digests: deterministic, sensitive to every value, useless as an oracle."""

from __future__ import annotations

import hashlib
from types import MappingProxyType

from lib.secrets.digest import secrets_digest
from lib.secrets.model import SecretGroup

MASTER = "sk-fixture-master-2f9c4b7a1e6d8035c2b4"


def group(name: str, **values: str) -> SecretGroup:
    return SecretGroup(name=name, keys=tuple(values), values=MappingProxyType(values))


def test_digest_same_inputs_same_digest() -> None:
    assert secrets_digest([group("a", K="v")], MASTER) == secrets_digest(
        [group("a", K="v")], MASTER
    )


def test_digest_changes_when_any_value_key_or_group_changes() -> None:
    base = secrets_digest([group("a", K="v", L="w")], MASTER)
    assert secrets_digest([group("a", K="v", L="x")], MASTER) != base
    assert secrets_digest([group("a", K="v", M="w")], MASTER) != base
    assert secrets_digest([group("b", K="v", L="w")], MASTER) != base
    assert secrets_digest([group("a", K="v", L="w")], MASTER + "x") != base


def test_digest_ignores_key_order_within_a_group() -> None:
    assert secrets_digest([group("a", K="v", L="w")], MASTER) == secrets_digest(
        [group("a", L="w", K="v")], MASTER
    )


def test_digest_is_not_a_plain_hash_of_the_values() -> None:
    """Without the master key, a guess at a value cannot be confirmed against the digest."""
    digest = secrets_digest([group("a", K="v")], MASTER)
    for candidate in ("v", "Kv", "K=v", '[["a",[["K","v"]]]]'):
        assert hashlib.sha256(candidate.encode()).hexdigest() != digest
    assert len(digest) == 64
