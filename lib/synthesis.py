"""One synth: inspect, decrypt once, validate, wire, build, write. Nothing is written unless
every step before the write succeeded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lib.environments import ENVIRONMENTS, Environment, SecretMode, environment_named, images
from lib.errors import SynthError
from lib.images.lock import LOCK_FILE, read_lock
from lib.images.pinning import pin_images
from lib.jsii_runtime import check_jsii_can_start, node_failures_told
from lib.outdir import prepare_output, write_output
from lib.output import ManifestFile, RenderedFile, refuse_ciphertext, render
from lib.project import PROJECT_ROOT, shown
from lib.proxy_config.checks import KeyReport, check_proxy_config
from lib.secrets.demo_key import DEMO_RECIPIENT, demo_identity_for
from lib.secrets.digest import secrets_digest
from lib.secrets.encrypted_file import (
    inspect_encrypted_file,
    manifest_recipients,
    refuse_unencrypted_secret_data,
)
from lib.secrets.gateway_secrets import AppKeyRequest, check_gateway_secrets
from lib.secrets.model import SecretsDocument, parse_key_names, parse_secrets
from lib.secrets.sops import decrypt, encrypt_manifests
from lib.specs.gateway_access import KEY_VARIABLE
from lib.specs.image import ImageRef
from lib.specs.redis import InClusterValkey
from lib.wiring import LITELLM_POD, Wiring, wire

SOPS_CONFIG = PROJECT_ROOT / ".sops.yaml"


@dataclass(frozen=True)
class SynthRequest:
    """``secrets_file`` None means the environment's own file. ``image_lock``: the digests
    tag-only images are pinned to (``images.lock.yaml``; absent, nothing is pinned by it)."""

    environment: str
    outdir: Path
    secrets_file: Path | None = None
    image_lock: Path = LOCK_FILE


@dataclass(frozen=True)
class SynthReport:
    environment: str
    secrets_file: Path
    used_demo_key: bool
    secret_mode: SecretMode
    secrets: SecretsDocument
    wiring: Wiring
    keys: KeyReport
    outdir: Path
    files: tuple[RenderedFile, ...]
    images: Mapping[str, ImageRef]
    environment_spec: Environment = field(repr=False)
    # Every object as built, before any encryption of the secrets file: for tests and checks.
    # Holds plaintext values in PLAIN and SOPS modes, so it stays out of repr.
    objects: tuple[Mapping[str, object], ...] = field(repr=False)
    # What went wrong after the output was written complete: told on stderr, exit status 0.
    warnings: tuple[str, ...] = ()
    # The workloads whose digest came from the image lock rather than lib/environments.py.
    locked_images: frozenset[str] = frozenset()

    def lines(self) -> list[str]:
        """What the CLI prints: names and counts only, never a value."""
        groups = ", ".join(
            f"{group.name} ({len(group.keys)} keys)" for group in self.secrets.groups
        )
        if self.secret_mode is SecretMode.EXTERNAL:
            how = "key names only, not decrypted: external secrets mode"
        elif self.used_demo_key:
            how = "decrypted with the public demo key (example values only)"
        else:
            how = "decrypted with your sops keys"
        written = ", ".join(f"{f.name}{' (mode 0600)' if f.private else ''}" for f in self.files)
        return [
            f"environment: {self.environment} (secret mode: {self.secret_mode.value})",
            f"secrets: {self.secrets_file} ({self.secrets.layout.value} layout; {how}); "
            f"groups: {groups}",
            self.keys.line(),
            self.images_line(),
            f"wrote {shown(self.outdir)}/: {written}",
        ]

    def prerequisites(self) -> list[str]:
        """What the cluster must provide for these objects (lib/prerequisites.py)."""
        from lib.prerequisites import prerequisites

        return prerequisites(
            self.environment_spec, self.objects, self.secrets, str(self.secrets_file)
        )

    def images_line(self) -> str:
        """Per workload, its image and whether a digest pins it (a tag alone can be moved)."""
        listed = "; ".join(
            f"{workload} {image} ({self._pinning(workload, image)})"
            for workload, image in self.images.items()
        )
        return f"images: {listed}"

    def _pinning(self, workload: str, image: ImageRef) -> str:
        if workload in self.locked_images:
            return "pinned by digest from the image lock"
        return "pinned by digest" if image.pinned_by_digest else "tag only, no digest"


def synthesize(
    request: SynthRequest, environments: Mapping[str, Environment] = ENVIRONMENTS
) -> SynthReport:
    pinned = pin_images(
        environment_named(request.environment, environments),
        read_lock(request.image_lock),
        shown(request.image_lock),
    )
    environment = pinned.environment
    secrets_path = request.secrets_file or shown(PROJECT_ROOT / environment.secrets_file)
    # Refusals about the output directory come first: they need nothing decrypted.
    output = prepare_output(
        request.outdir,
        secrets_file=secrets_path,
        plaintext=environment.secret_mode is SecretMode.PLAIN,
    )
    encrypted = inspect_encrypted_file(secrets_path)
    identity = demo_identity_for(encrypted, environment)
    if environment.secret_mode is SecretMode.EXTERNAL:
        # Key names are plaintext in the SOPS file: no key needed, no value ever in memory.
        secrets = parse_key_names(
            encrypted.key_paths,
            secrets_path,
            environment.litellm_group,
            encrypted.empty_key_paths,
            encrypted.empty_collections,
        )
    else:
        secrets = parse_secrets(
            decrypt(encrypted, identity=identity), secrets_path, environment.litellm_group
        )
    wiring = wire(environment, secrets)
    litellm_keys = wiring.keys_reaching(secrets, wiring.litellm_groups)
    where = f"lib/environments.py, environment '{environment.name}'"
    secrets_hint = (
        f"add it to group '{wiring.litellm_groups[0]}' with "
        f"`make edit-secrets SECRETS={secrets_path}`"
    )
    _check_redis_password(environment, litellm_keys, where, secrets_hint)
    keys = check_proxy_config(
        environment.proxy_config(),
        (*litellm_keys, *environment.litellm_env(), *environment.litellm_secret_env()),
        where=where,
        secrets_hint=secrets_hint,
    )
    database = environment.database_connection
    gateway_secrets = check_gateway_secrets(
        secrets,
        litellm_group=wiring.litellm_groups[0],
        database_password_key=database.password_key if database is not None else None,
        apps=[
            AppKeyRequest(app=app.name, group=app.name, key=KEY_VARIABLE)
            for app, _ in environment.gateway_apps
        ],
        where=where,
    )
    digests = _secrets_digests(secrets, wiring, environment)

    check_jsii_can_start()
    with node_failures_told():
        from charts.manifests import build_manifests  # starts jsii: only once the input is good

        manifests = build_manifests(environment, secrets, wiring, digests, gateway_secrets)
    files = tuple(_rendered(manifest, environment) for manifest in manifests)
    warnings = write_output(output, files)
    return SynthReport(
        environment=environment.name,
        secrets_file=secrets_path,
        secret_mode=environment.secret_mode,
        used_demo_key=identity is not None and environment.secret_mode is not SecretMode.EXTERNAL,
        secrets=secrets,
        wiring=wiring,
        keys=keys,
        outdir=request.outdir,
        files=files,
        images=images(environment),
        objects=tuple(obj for manifest in manifests for obj in manifest.objects),
        warnings=warnings,
        locked_images=pinned.locked,
        environment_spec=environment,
    )


def _rendered(manifest: ManifestFile, environment: Environment) -> RenderedFile:
    text = render(manifest.objects)
    refuse_ciphertext(manifest.name, text)
    if manifest.sops_encrypt:
        text = encrypt_manifests(text, filename=manifest.name, config=SOPS_CONFIG)
        refuse_unencrypted_secret_data(text, manifest.name)
        if DEMO_RECIPIENT in manifest_recipients(text) and not environment.allow_demo_key:
            raise SynthError(
                f"{SOPS_CONFIG} encrypts {manifest.name} to the public demo key, so anyone could "
                f"read it, and environment '{environment.name}' refuses that: put your "
                "cluster's age recipient in that creation rule"
            )
    return RenderedFile(name=manifest.name, text=text, private=manifest.private)


def _check_redis_password(
    environment: Environment, litellm_keys: tuple[str, ...], where: str, secrets_hint: str
) -> None:
    """The Redis password key must be in the LiteLLM group: Valkey and the proxy both read it."""
    connection = environment.redis_connection
    if connection is None or connection.password_key is None:
        return
    if connection.password_key not in litellm_keys:
        what = (
            "any long random string: the in-cluster Valkey is set up with it"
            if isinstance(environment.redis, InClusterValkey)
            else "the password of your Redis"
        )
        raise SynthError(
            f"{where}: redis password_key '{connection.password_key}' is not a key the LiteLLM "
            f"pod receives: {secrets_hint} ({what})"
        )


def _secrets_digests(
    secrets: SecretsDocument, wiring: Wiring, environment: Environment
) -> dict[str, str]:
    """Per pod, a digest of the secret data it consumes (see lib/secrets/digest.py); an app
    with gateway access also consumes its own group's key.

    None without values (external mode): there the operator rotates Secrets in the cluster.
    """
    if secrets.master_key is None:
        return {}
    pods = {LITELLM_POD: wiring.litellm_groups, **wiring.app_groups}
    for app, _ in environment.gateway_apps:
        if app.name not in pods[app.name]:
            pods[app.name] = (*pods[app.name], app.name)
    return {
        pod: secrets_digest(
            [group for name in groups if (group := secrets.group_named(name)) is not None],
            secrets.master_key,
        )
        for pod, groups in pods.items()
        if groups
    }
