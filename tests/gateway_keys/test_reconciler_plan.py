"""The reconciler's planning: declared keys and LiteLLM's keys in, the writes out."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lib.gateway_keys.reconciler import (
    APP,
    MANAGED_BY,
    RETIRING,
    ActualKey,
    Create,
    Delete,
    DesiredKey,
    ReconcileError,
    Update,
    describe,
    hash_token,
    plan,
)

MANAGER = "seance/test"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CHATBOT_VALUE = "sk-chatbot-value-0123456789abcdef"
SEARCH_VALUE = "sk-search-value-fedcba9876543210"


def desired(app: str = "chatbot", value: str = CHATBOT_VALUE, **changes: Any) -> DesiredKey:
    key = DesiredKey(
        app=app,
        alias=app,
        models=("gpt-4o-mini",),
        max_budget=20.0,
        budget_duration="30d",
        rpm_limit=60,
        tpm_limit=100_000,
        metadata={"team": "support"},
        rotation_grace="1h",
        value=value,
    )
    return replace(key, **changes)


def actual_of(key: DesiredKey, **changes: Any) -> ActualKey:
    """What LiteLLM holds after creating ``key`` as the reconciler does."""
    fields = key.fields(MANAGER)
    stored = ActualKey(
        token=key.token,
        alias=key.alias,
        models=tuple(fields["models"]),
        max_budget=fields["max_budget"],
        budget_duration=fields["budget_duration"],
        rpm_limit=fields["rpm_limit"],
        tpm_limit=fields["tpm_limit"],
        metadata=fields["metadata"],
        expires=None,
    )
    return replace(stored, **changes)


def hand_made(
    alias: str | None = "someone", value: str = "sk-hand-made-key-00000000000"
) -> ActualKey:
    return ActualKey(
        token=hash_token(value),
        alias=alias,
        models=(),
        max_budget=None,
        budget_duration=None,
        rpm_limit=None,
        tpm_limit=None,
        metadata={},
        expires=None,
    )


def test_plan_token_is_litellms_sha256_hex_of_the_raw_key() -> None:
    # litellm/proxy/_types.py hash_token: sha256 of the UTF-8 key, hex.
    assert hash_token("sk-abc") == hashlib.sha256(b"sk-abc").hexdigest()
    assert desired().token == hashlib.sha256(CHATBOT_VALUE.encode()).hexdigest()


def test_plan_creates_a_missing_key_with_its_value_and_every_field() -> None:
    key = desired()
    assert plan([key], [], manager=MANAGER, now=NOW) == [Create(key)]
    assert key.fields(MANAGER) == {
        "models": ["gpt-4o-mini"],
        "max_budget": 20.0,
        "budget_duration": "30d",
        "rpm_limit": 60,
        "tpm_limit": 100_000,
        "metadata": {"team": "support", MANAGED_BY: MANAGER, APP: "chatbot"},
    }


def test_plan_nothing_changed_means_no_writes() -> None:
    keys = [desired(), desired("search", SEARCH_VALUE)]
    assert plan(keys, [actual_of(k) for k in keys], manager=MANAGER, now=NOW) == []


def test_plan_model_order_is_not_drift() -> None:
    key = desired(models=("gpt-4o-mini", "claude-sonnet"))
    stored = actual_of(key, models=("claude-sonnet", "gpt-4o-mini"))
    assert plan([key], [stored], manager=MANAGER, now=NOW) == []


@pytest.mark.parametrize(
    ("field", "drifted", "restored"),
    [
        ("models", ("gpt-4o-mini", "claude-sonnet"), ["gpt-4o-mini"]),
        ("max_budget", 1000.0, 20.0),
        ("max_budget", None, 20.0),
        ("budget_duration", "1d", "30d"),
        ("rpm_limit", 6000, 60),
        ("rpm_limit", None, 60),
        ("tpm_limit", 1, 100_000),
        (
            "metadata",
            {"team": "other", MANAGED_BY: MANAGER, APP: "chatbot"},
            {"team": "support", MANAGED_BY: MANAGER, APP: "chatbot"},
        ),
    ],
)
def test_plan_restores_each_drifted_field(field: str, drifted: Any, restored: Any) -> None:
    key = desired()
    stored = actual_of(key, **{field: drifted})
    assert plan([key], [stored], manager=MANAGER, now=NOW) == [
        Update(key.token, "chatbot", {field: restored})
    ]


def test_plan_clears_a_field_the_declaration_dropped() -> None:
    key = desired(rpm_limit=None, max_budget=None, budget_duration=None)
    stored = actual_of(desired())
    (update,) = plan([key], [stored], manager=MANAGER, now=NOW)
    assert isinstance(update, Update)
    assert update.changes == {"max_budget": None, "budget_duration": None, "rpm_limit": None}


def test_plan_restores_an_alias_changed_by_hand() -> None:
    key = desired()
    stored = actual_of(key, alias="renamed")
    assert plan([key], [stored], manager=MANAGER, now=NOW) == [
        Update(key.token, "chatbot", {"key_alias": "chatbot"})
    ]


def test_plan_rotation_retires_the_old_key_then_creates_the_new_one() -> None:
    old = desired()
    new = desired(value="sk-chatbot-rotated-00112233445566")
    old_stored = actual_of(old)
    actions = plan([new], [old_stored], manager=MANAGER, now=NOW)
    assert actions == [
        Update(
            old.token,
            "chatbot",
            {
                "key_alias": f"chatbot/retiring-{old.token[:12]}",
                "duration": "1h",
                "metadata": {**old.fields(MANAGER)["metadata"], RETIRING: "true"},
            },
        ),
        Create(new),
    ]


def test_plan_a_retiring_key_is_kept_until_its_grace_is_over_then_deleted() -> None:
    old, new = desired(), desired(value="sk-chatbot-rotated-00112233445566")
    retiring = actual_of(
        old,
        alias=f"chatbot/retiring-{old.token[:12]}",
        metadata={**old.fields(MANAGER)["metadata"], RETIRING: "true"},
        expires=NOW + timedelta(minutes=30),
    )
    current = [retiring, actual_of(new)]
    assert plan([new], current, manager=MANAGER, now=NOW) == []
    later = NOW + timedelta(minutes=31)
    assert plan([new], current, manager=MANAGER, now=later) == [
        Delete(old.token, retiring.alias, "its rotation grace is over")
    ]


def test_plan_a_rotation_undone_brings_the_retiring_key_back() -> None:
    old, new = desired(), desired(value="sk-chatbot-rotated-00112233445566")
    retiring = actual_of(
        old,
        alias=f"chatbot/retiring-{old.token[:12]}",
        metadata={**old.fields(MANAGER)["metadata"], RETIRING: "true"},
        expires=NOW + timedelta(minutes=30),
    )
    actions = plan([old], [retiring, actual_of(new)], manager=MANAGER, now=NOW)
    assert [type(a) for a in actions] == [Update, Update]
    retire_new, restore_old = actions
    assert isinstance(retire_new, Update)
    assert isinstance(restore_old, Update)
    assert retire_new.token == new.token
    assert retire_new.changes["key_alias"].startswith("chatbot/retiring-")
    assert restore_old.token == old.token
    assert restore_old.changes == {
        "key_alias": "chatbot",
        "duration": None,
        "metadata": old.fields(MANAGER)["metadata"],
    }


def test_plan_deletes_managed_keys_nobody_declares_and_their_retiring_keys() -> None:
    gone = desired("gone", "sk-gone-value-99999999999999999")
    retiring = actual_of(
        gone,
        token=hash_token("sk-gone-old-value-888888888888888"),
        alias="gone/retiring-abc",
        metadata={**gone.fields(MANAGER)["metadata"], RETIRING: "true"},
        expires=NOW + timedelta(hours=1),
    )
    actions = plan([], [actual_of(gone), retiring], manager=MANAGER, now=NOW)
    assert actions == [
        Delete(gone.token, "gone", "no app declares it"),
        Delete(retiring.token, "gone/retiring-abc", "no app declares it"),
    ]


def test_plan_never_touches_a_key_it_does_not_manage() -> None:
    others = [
        hand_made(),
        hand_made(alias=None, value="sk-no-alias-key-00000000000000"),
        # Managed, but by another environment sharing the database.
        replace(
            actual_of(desired("prodbot", "sk-prodbot-value-55555555555555")),
            metadata={MANAGED_BY: "seance/prod", APP: "prodbot"},
        ),
    ]
    key = desired()
    assert plan([key], [*others, actual_of(key)], manager=MANAGER, now=NOW) == []


def test_plan_refuses_an_alias_held_by_an_unmanaged_key() -> None:
    with pytest.raises(ReconcileError) as raised:
        plan([desired()], [hand_made(alias="chatbot")], manager=MANAGER, now=NOW)
    assert str(raised.value) == (
        "key alias 'chatbot' of app 'chatbot' is taken by a key this reconciler does not "
        "manage: delete or rename that key, or give the app another alias"
    )


def test_plan_refuses_a_value_that_belongs_to_an_unmanaged_key() -> None:
    with pytest.raises(ReconcileError, match="belongs to a key this reconciler does not manage"):
        plan([desired()], [hand_made(value=CHATBOT_VALUE)], manager=MANAGER, now=NOW)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            [desired(), desired("search", CHATBOT_VALUE)],
            "apps 'chatbot' and 'search' have the same key value: give each app a value of its own",
        ),
        (
            [desired(), desired("search", SEARCH_VALUE, alias="chatbot")],
            "apps 'chatbot' and 'search' declare the same alias 'chatbot'",
        ),
        ([desired(value="not-sk-but-long-enough-000000000")], "must start with 'sk-'"),
        ([desired(value="sk-short")], "at least 20 characters"),
    ],
)
def test_plan_refuses_bad_declarations_before_any_write(
    keys: list[DesiredKey], message: str
) -> None:
    with pytest.raises(ReconcileError) as raised:
        plan(keys, [], manager=MANAGER, now=NOW)
    assert message in str(raised.value)
    for key in keys:
        assert key.value not in str(raised.value)


def test_plan_many_keys_converge_in_one_plan() -> None:
    keys = [desired(f"app-{n:03d}", f"sk-value-{n:03d}-0123456789abcdef") for n in range(150)]
    creates = plan(keys, [], manager=MANAGER, now=NOW)
    assert creates == [Create(key) for key in keys]
    assert plan(keys, [actual_of(k) for k in keys], manager=MANAGER, now=NOW) == []


def test_plan_log_lines_and_reprs_hold_no_raw_key() -> None:
    old, new = desired(), desired(value="sk-chatbot-rotated-00112233445566")
    actions = plan([new], [actual_of(old), hand_made(alias="x")], manager=MANAGER, now=NOW)
    actions.append(Delete(old.token, "chatbot", "no app declares it"))
    for action in actions:
        for text in (describe(action), repr(action)):
            assert CHATBOT_VALUE not in text
            assert new.value not in text
    assert describe(actions[1]) == "create key 'chatbot' for app 'chatbot'"


def test_plan_reads_litellms_full_key_objects() -> None:
    stored = ActualKey.from_api(
        {
            "token": "ab" * 32,
            "key_alias": "chatbot",
            "models": ["gpt-4o-mini"],
            "max_budget": 20,
            "budget_duration": "30d",
            "rpm_limit": 60,
            "tpm_limit": None,
            "metadata": {MANAGED_BY: MANAGER},
            "expires": "2026-12-01T13:00:00Z",
            "spend": 1.5,
        }
    )
    assert stored.max_budget == 20.0
    assert stored.expires == NOW + timedelta(hours=1)
    assert stored.managed_by(MANAGER)
    assert not stored.retiring
