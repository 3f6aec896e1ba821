"""One synth: inspect, decrypt once, validate, wire, build, write. Nothing is written unless
every step before the write succeeded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.environments import ENVIRONMENTS, Environment, environment_named
from lib.output import ManifestFile, write_atomically
from lib.proxy_config.checks import KeyReport, check_proxy_config
from lib.secrets.demo_key import PROJECT_ROOT, demo_identity_for
from lib.secrets.digest import secrets_digest
from lib.secrets.encrypted_file import inspect_encrypted_file
from lib.secrets.model import SecretsDocument, parse_secrets
from lib.secrets.sops import decrypt
from lib.wiring import LITELLM_POD, Wiring, wire


@dataclass(frozen=True)
class SynthRequest:
    """``secrets_file`` None means the environment's own file."""

    environment: str
    outdir: Path
    secrets_file: Path | None = None


@dataclass(frozen=True)
class SynthReport:
    environment: str
    secrets_file: Path
    used_demo_key: bool
    secrets: SecretsDocument
    wiring: Wiring
    keys: KeyReport
    outdir: Path
    files: tuple[ManifestFile, ...]

    def lines(self) -> list[str]:
        """What the CLI prints: names and counts only, never a value."""
        groups = ", ".join(
            f"{group.name} ({len(group.keys)} keys)" for group in self.secrets.groups
        )
        key = (
            "the public demo key (example values only)" if self.used_demo_key else "your sops keys"
        )
        written = ", ".join(
            f"{f.name} ({len(f.objects)} objects{', mode 0600' if f.private else ''})"
            for f in self.files
        )
        return [
            f"environment: {self.environment}",
            f"secrets: {self.secrets_file} ({self.secrets.layout.value} layout; decrypted with "
            f"{key}); groups: {groups}",
            self.keys.line(),
            f"wrote {self.outdir}/: {written}",
        ]


def synthesize(
    request: SynthRequest, environments: Mapping[str, Environment] = ENVIRONMENTS
) -> SynthReport:
    environment = environment_named(request.environment, environments)
    secrets_path = request.secrets_file or _display(PROJECT_ROOT / environment.secrets_file)
    encrypted = inspect_encrypted_file(secrets_path)
    identity = demo_identity_for(encrypted, environment)
    secrets = parse_secrets(
        decrypt(encrypted, identity=identity), secrets_path, environment.litellm_group
    )
    wiring = wire(environment, secrets)
    keys = check_proxy_config(
        environment.proxy,
        (
            *wiring.keys_reaching(secrets, wiring.litellm_groups),
            *environment.litellm_env(),
        ),
        where=f"lib/environments.py, environment '{environment.name}'",
        secrets_hint=(f"add it to group '{wiring.litellm_groups[0]}' with `sops {secrets_path}`"),
    )
    digests = _secrets_digests(secrets, wiring)

    from charts.manifests import build_manifests  # starts jsii: only once the input is good

    files = tuple(build_manifests(environment, secrets, wiring, digests))
    write_atomically(request.outdir, files)
    return SynthReport(
        environment=environment.name,
        secrets_file=secrets_path,
        used_demo_key=identity is not None,
        secrets=secrets,
        wiring=wiring,
        keys=keys,
        outdir=request.outdir,
        files=files,
    )


def _secrets_digests(secrets: SecretsDocument, wiring: Wiring) -> dict[str, str]:
    """Per pod, a digest of the secret data it consumes (see lib/secrets/digest.py)."""
    pods = {LITELLM_POD: wiring.litellm_groups, **wiring.app_groups}
    return {
        pod: secrets_digest(
            [group for name in groups if (group := secrets.group_named(name)) is not None],
            secrets.master_key,
        )
        for pod, groups in pods.items()
        if groups
    }


def _display(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it, for shorter messages."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
