"""Make LiteLLM's virtual keys match the declarations: one key per app, by alias.

Runs in the cluster as ``python /reconciler/reconcile.py`` inside LiteLLM's own image, with the
standard library only. It reads:

- ``DECLARATIONS_FILE``: the declarations as JSON (a ConfigMap written by the synth);
- ``KEYS_DIR``: each app's key value, a mounted Secret file per app (``<app>/LITELLM_API_KEY``),
  so it works in every secret mode: in external mode the values exist only in the cluster;
- ``LITELLM_MASTER_KEY`` and ``PROXY_URL`` (the in-cluster Service).

The work is split in two: ``plan`` is pure (declared keys and LiteLLM's keys in, a list of
actions out) and unit-tested; ``LiteLLMKeys`` is a thin HTTP client for ``/key/*``.

What it guarantees (docs/gateway-keys.md):

- Managed keys carry ``metadata[MANAGED_BY] == manager`` (the environment); a key without that
  mark is never updated or deleted.
- Every declared field is compared on every run (models, budget, budget duration, rpm, tpm,
  metadata) and restored when it drifted; a second run with nothing changed writes nothing.
- A changed value is rotated without a window of refusals: the old key is renamed to
  ``<alias>/retiring-<token prefix>`` and given an expiry ``rotation_grace`` from now, then the
  new key is created under the alias. Both work during the grace; the old one is deleted once
  expired.
- Undeclared managed keys are deleted. ``/key/list`` is read page by page (100 a page) with full
  objects, sorted by token, until every page is read.
- Raw keys never appear in a URL or a log line: keys are addressed by their hashed token
  (``sha256`` hex of the raw key, as ``litellm.proxy._types.hash_token`` computes it), and
  error texts from the proxy are scrubbed of every raw value before they are printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANAGED_BY = "seance.dev/managed-by"
APP = "seance.dev/app"
RETIRING = "seance.dev/retiring"
RETIRING_INFIX = "/retiring-"
PAGE_SIZE = 100
REQUIRED_VARIABLES = ("DECLARATIONS_FILE", "KEYS_DIR", "PROXY_URL", "LITELLM_MASTER_KEY")
# Key values must look like LiteLLM keys, and be long enough not to be guessed.
KEY_PREFIX = "sk-"
MIN_KEY_CHARS = 20


class ReconcileError(Exception):
    """Something the operator must fix; told as one line, never with a key value."""


def hash_token(raw_key: str) -> str:
    """LiteLLM's token for a raw key (``litellm/proxy/_types.py``: sha256 hex of the key)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Planning: pure.


@dataclass(frozen=True)
class DesiredKey:
    """One declared key. ``value`` is the raw key, kept out of ``repr``."""

    app: str
    alias: str
    models: tuple[str, ...]
    max_budget: float | None
    budget_duration: str | None
    rpm_limit: int | None
    tpm_limit: int | None
    metadata: Mapping[str, str]
    rotation_grace: str
    value: str = field(repr=False)

    @property
    def token(self) -> str:
        return hash_token(self.value)

    def fields(self, manager: str) -> dict[str, Any]:
        """What LiteLLM must hold for this key (the managed mark included)."""
        return {
            "models": list(self.models),
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "metadata": {**self.metadata, MANAGED_BY: manager, APP: self.app},
        }


@dataclass(frozen=True)
class ActualKey:
    """One key as ``/key/list`` returns it (full object); ``token`` is the hashed token."""

    token: str
    alias: str | None
    models: tuple[str, ...]
    max_budget: float | None
    budget_duration: str | None
    rpm_limit: int | None
    tpm_limit: int | None
    metadata: Mapping[str, Any]
    expires: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ActualKey:
        expires = data.get("expires")
        return cls(
            token=str(data["token"]),
            alias=data.get("key_alias"),
            models=tuple(data.get("models") or ()),
            max_budget=_float_or_none(data.get("max_budget")),
            budget_duration=data.get("budget_duration"),
            rpm_limit=_int_or_none(data.get("rpm_limit")),
            tpm_limit=_int_or_none(data.get("tpm_limit")),
            metadata=dict(data.get("metadata") or {}),
            expires=_parse_time(expires) if expires else None,
        )

    def managed_by(self, manager: str) -> bool:
        return self.metadata.get(MANAGED_BY) == manager

    @property
    def retiring(self) -> bool:
        return self.metadata.get(RETIRING) == "true"


@dataclass(frozen=True)
class Create:
    key: DesiredKey


@dataclass(frozen=True)
class Update:
    """Set ``changes`` on the key with ``token`` (a merge patch; ``None`` clears a field)."""

    token: str
    alias: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    token: str
    alias: str | None
    why: str


Action = Create | Update | Delete


def plan(
    desired: Sequence[DesiredKey],
    actual: Sequence[ActualKey],
    *,
    manager: str,
    now: datetime,
) -> list[Action]:
    """The writes that make ``actual`` match ``desired``, in the order they must run.

    Per declared alias: rename away (retire) a managed key that holds the alias with another
    value, then create the key or bring back the one that already holds the value, then restore
    every drifted field. Then delete managed keys nobody declares, and retiring keys whose grace
    is over. Unmanaged keys are never written; one that holds a declared value or alias is an
    error, since adopting or overwriting it would take a key from whoever made it.
    """
    _check_desired(desired)
    by_token = {existing.token: existing for existing in actual}
    by_alias: dict[str, ActualKey] = {}
    for existing in actual:
        if existing.alias is not None:
            by_alias.setdefault(existing.alias, existing)
    actions: list[Action] = []
    kept: set[str] = set()
    declared_apps = {declared.app for declared in desired}
    for declared in desired:
        holder = by_alias.get(declared.alias)
        if holder is not None and not holder.managed_by(manager):
            raise ReconcileError(
                f"key alias '{declared.alias}' of app '{declared.app}' is taken by a key this "
                "reconciler does not manage: delete or rename that key, or give the app another "
                "alias"
            )
        owner = by_token.get(declared.token)
        if owner is not None and not owner.managed_by(manager):
            raise ReconcileError(
                f"the key value of app '{declared.app}' belongs to a key this reconciler does "
                "not manage: make a new value for the app (docs/gateway-keys.md)"
            )
        if holder is not None and holder.token != declared.token:
            actions.append(_retire(holder, declared, manager))
            kept.add(holder.token)
        if owner is None:
            actions.append(Create(declared))
            continue
        kept.add(owner.token)
        changes = _drift(owner, declared.fields(manager))
        if owner.alias != declared.alias:
            changes["key_alias"] = declared.alias
        if owner.expires is not None or owner.retiring:
            # A retiring key whose value is declared again (a rotation undone): it is the
            # app's key once more, and never expires.
            changes["duration"] = None
        if changes:
            actions.append(Update(owner.token, declared.alias, changes))
    for existing in actual:
        if existing.token in kept or not existing.managed_by(manager):
            continue
        if existing.retiring and existing.metadata.get(APP) in declared_apps:
            if existing.expires is not None and existing.expires <= now:
                actions.append(Delete(existing.token, existing.alias, "its rotation grace is over"))
            continue
        actions.append(Delete(existing.token, existing.alias, "no app declares it"))
    return actions


def _check_desired(desired: Sequence[DesiredKey]) -> None:
    seen_alias: dict[str, str] = {}
    seen_token: dict[str, str] = {}
    for key in desired:
        if not key.value.startswith(KEY_PREFIX) or len(key.value) - 3 < MIN_KEY_CHARS:
            raise ReconcileError(
                f"the key value of app '{key.app}' must start with 'sk-' and have at least "
                f"{MIN_KEY_CHARS} characters after it: make one with "
                '`echo "sk-$(openssl rand -hex 32)"`'
            )
        if key.alias in seen_alias:
            raise ReconcileError(
                f"apps '{seen_alias[key.alias]}' and '{key.app}' declare the same alias "
                f"'{key.alias}'"
            )
        if key.token in seen_token:
            raise ReconcileError(
                f"apps '{seen_token[key.token]}' and '{key.app}' have the same key value: give "
                "each app a value of its own"
            )
        seen_alias[key.alias] = key.app
        seen_token[key.token] = key.app


def _retire(holder: ActualKey, key: DesiredKey, manager: str) -> Update:
    return Update(
        holder.token,
        key.alias,
        {
            "key_alias": f"{key.alias}{RETIRING_INFIX}{holder.token[:12]}",
            "duration": key.rotation_grace,
            "metadata": {**key.fields(manager)["metadata"], RETIRING: "true"},
        },
    )


def _drift(actual: ActualKey, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared field whose stored value differs, with the declared value."""
    stored: dict[str, Any] = {
        "models": sorted(actual.models),
        "max_budget": actual.max_budget,
        "budget_duration": actual.budget_duration,
        "rpm_limit": actual.rpm_limit,
        "tpm_limit": actual.tpm_limit,
        "metadata": dict(actual.metadata),
    }
    declared = {**wanted, "models": sorted(wanted["models"])}
    return {name: wanted[name] for name, value in declared.items() if stored[name] != value}


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Declarations: the JSON the synth writes, and the values from the mounted Secrets.


def load_desired(declarations: Mapping[str, Any], keys_dir: Path) -> tuple[str, list[DesiredKey]]:
    """The manager id and the declared keys, each with its value read from ``keys_dir``."""
    desired = []
    for entry in declarations["keys"]:
        path = keys_dir / entry["key_file"]
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ReconcileError(
                f"app '{entry['app']}' has no key value at {path}: add LITELLM_API_KEY to its "
                "secrets group (docs/gateway-keys.md)"
            ) from None
        desired.append(
            DesiredKey(
                app=entry["app"],
                alias=entry["alias"],
                models=tuple(entry["models"]),
                max_budget=entry.get("max_budget"),
                budget_duration=entry.get("budget_duration"),
                rpm_limit=entry.get("rpm_limit"),
                tpm_limit=entry.get("tpm_limit"),
                metadata=dict(entry.get("metadata") or {}),
                rotation_grace=entry["rotation_grace"],
                value=value,
            )
        )
    return str(declarations["manager"]), desired


# ---------------------------------------------------------------------------------------------
# The HTTP client: thin.

Opener = Callable[[urllib.request.Request, float], Any]


def _default_open(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the Service URL


class LiteLLMKeys:
    """``/key/*`` of one proxy, authenticated with the master key.

    ``manager``: the mark written on the keys it creates. ``secrets``: every raw value this run
    knows (the master key and the app keys); each is scrubbed from any text the proxy sends
    back before that text reaches an error.
    """

    def __init__(
        self,
        base_url: str,
        master_key: str,
        *,
        manager: str,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        opener: Opener = _default_open,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._master_key = master_key
        self.manager = manager
        self._secrets = tuple(s for s in {master_key, *secrets} if s)
        self._timeout = timeout
        self._open = opener

    def list_all(self) -> list[ActualKey]:
        keys: dict[str, ActualKey] = {}
        page = 1
        while True:
            query = urllib.parse.urlencode(
                {
                    "page": page,
                    "size": PAGE_SIZE,
                    "return_full_object": "true",
                    "sort_by": "token",
                    "sort_order": "asc",
                }
            )
            body = self._call("GET", f"/key/list?{query}")
            for item in body.get("keys") or ():
                if isinstance(item, Mapping):
                    key = ActualKey.from_api(item)
                    keys[key.token] = key
            total_pages = int(body.get("total_pages") or 0)
            if page >= total_pages or not body.get("keys"):
                return list(keys.values())
            page += 1

    def apply(self, action: Action) -> None:
        if isinstance(action, Create):
            key = action.key
            self._call(
                "POST",
                "/key/generate",
                {"key": key.value, "key_alias": key.alias, **key.fields(self.manager)},
            )
        elif isinstance(action, Update):
            self._call("POST", "/key/update", {"key": action.token, **action.changes})
        else:
            self._call("POST", "/key/delete", {"keys": [action.token]})

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the Service URL
            self._base + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._master_key}",
                "Content-Type": "application/json",
            },
        )
        where = path.split("?", 1)[0]
        try:
            with self._open(request, self._timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = self._scrubbed(error.read().decode("utf-8", "replace"))[:300]
            raise ReconcileError(f"{method} {where} answered {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ReconcileError(f"{method} {where} failed: {reason}") from None

    def _scrubbed(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text


def wait_until_ready(
    base_url: str,
    deadline_seconds: float,
    *,
    opener: Opener = _default_open,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until ``/health/readiness`` answers 200 with the database connected, or the deadline."""
    url = base_url.rstrip("/") + "/health/readiness"
    end = clock() + deadline_seconds
    last = "no answer"
    while True:
        try:
            with opener(urllib.request.Request(url), 5.0) as response:  # noqa: S310
                body = json.loads(response.read() or b"{}")
                if body.get("db") in (None, "connected"):
                    return
                last = f"database {body.get('db')}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            last = str(getattr(error, "reason", error))
        if clock() >= end:
            raise ReconcileError(
                f"the proxy at {base_url} was not ready within {deadline_seconds:.0f} s "
                f"({last}): check the litellm pods and the migration Job"
            )
        sleep(2.0)


def wait_for_own_key(
    base_url: str,
    raw_key: str,
    deadline_seconds: float,
    *,
    opener: Opener = _default_open,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until the proxy accepts ``raw_key`` on ``/v1/models`` (which every valid key may call;
    the key in the Authorization header only): an app pod's init container, so that a pod
    started with a new or rotated value never serves before the reconciler has created its
    key."""
    url = base_url.rstrip("/") + "/v1/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {raw_key}"})  # noqa: S310
    end = clock() + deadline_seconds
    last = "no answer"
    while True:
        try:
            with opener(request, 5.0):
                return
        except urllib.error.HTTPError as error:
            last = f"answered {error.code}"
        except (urllib.error.URLError, OSError) as error:
            last = str(getattr(error, "reason", error))
        if clock() >= end:
            raise ReconcileError(
                f"the gateway did not accept this app's key within {deadline_seconds:.0f} s "
                f"({last}): check the litellm-keys Job's log"
            )
        sleep(2.0)


def describe(action: Action) -> str:
    """One log line; tokens shortened, raw keys never shown."""
    if isinstance(action, Create):
        return f"create key '{action.key.alias}' for app '{action.key.app}'"
    if isinstance(action, Update):
        fields = ", ".join(sorted(action.changes))
        return f"update key '{action.alias}' (token {action.token[:12]}...): {fields}"
    return f"delete key '{action.alias}' (token {action.token[:12]}...): {action.why}"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Reconcile once. ``--dry-run`` prints the plan and writes nothing. Exit 0 when LiteLLM
    matches the declarations, 1 on anything the operator must fix (one ``error:`` line)."""
    env = os.environ if environ is None else environ
    args = list(argv if argv is not None else sys.argv[1:])
    if args == ["--wait-for-own-key"]:
        return _wait_for_own_key(env)
    dry_run = "--dry-run" in args
    missing = [name for name in REQUIRED_VARIABLES if not env.get(name)]
    if missing:
        print(f"error: variables {', '.join(missing)} are not set", file=sys.stderr)
        return 1
    try:
        declarations = json.loads(Path(env["DECLARATIONS_FILE"]).read_text(encoding="utf-8"))
        manager, desired = load_desired(declarations, Path(env["KEYS_DIR"]))
        base_url = env["PROXY_URL"]
        wait_until_ready(base_url, float(env.get("READY_TIMEOUT_SECONDS", "600")))
        client = LiteLLMKeys(
            base_url,
            env["LITELLM_MASTER_KEY"],
            manager=manager,
            secrets=[key.value for key in desired],
        )
        actions = plan(desired, client.list_all(), manager=manager, now=datetime.now(UTC))
        for action in actions:
            print(("would " if dry_run else "") + describe(action), flush=True)
            if not dry_run:
                client.apply(action)
    except ReconcileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"reconciled {len(desired)} declared keys: {len(actions)} writes", flush=True)
    return 0


def _wait_for_own_key(env: Mapping[str, str]) -> int:
    missing = [name for name in ("PROXY_URL", "GATEWAY_KEY") if not env.get(name)]
    if missing:
        print(f"error: variables {', '.join(missing)} are not set", file=sys.stderr)
        return 1
    try:
        wait_for_own_key(
            env["PROXY_URL"], env["GATEWAY_KEY"], float(env.get("READY_TIMEOUT_SECONDS", "600"))
        )
    except ReconcileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("the gateway accepts this app's key", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
