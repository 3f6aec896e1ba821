"""The image lock file: per environment, each tag-only image reference -> the digest it had.

``images.lock.yaml`` sits at the project root, beside ``pyproject.toml`` and
``package-lock.json``: the other pins a reviewer checks, and a file ``make lock-images`` writes
rather than code anyone edits. It is per environment so that a new digest behind the same tag
(a re-pushed release, a moved tag) reaches dev first and prod only when prod is locked again.

Read strictly: one mapping ``version`` / ``environments``, every reference as
``ImageRef.parse`` reads it with a tag and no digest, every digest ``sha256:<64 hex>``. No
duplicate keys (a reviewer would see one value and the synth use the other), no anchors, aliases
or tags. Written the way git writes its index: ``<file>.lock`` created exclusively, filled,
then renamed over the file, so a reader sees the old lock or the new one, and a second writer
stops instead of racing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from lib.errors import SynthError, printable
from lib.specs.image import ImageRef

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = PROJECT_ROOT / "images.lock.yaml"
FORMAT_VERSION = 1
MAX_LOCK_BYTES = 1024 * 1024
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_STRING = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
HEADER = """\
# Image digests, written by `make lock-images ENV=<environment>` (lib/images/, docs/images.md).
# Per environment: an image reference as written in lib/environments.py -> the sha256 digest of
# the manifest (or multi-arch index) its registry served when it was locked. The synth renders
# such an image as reference@digest. Review a change here as you would a change of code.
"""


@dataclass(frozen=True)
class ImageLock:
    """Environment name -> image reference (``repository:tag``) -> ``sha256:`` digest."""

    environments: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def digests_of(self, environment: str) -> Mapping[str, str]:
        return self.environments.get(environment, MappingProxyType({}))

    def with_environment(self, environment: str, digests: Mapping[str, str]) -> ImageLock:
        """This lock with ``environment``'s entries replaced by ``digests`` (stale ones go)."""
        return ImageLock(
            MappingProxyType({**self.environments, environment: MappingProxyType(dict(digests))})
        )


def read_lock(path: Path) -> ImageLock:
    """The lock in ``path``; an absent file is an empty lock (nothing pinned by it)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_LOCK_BYTES + 1)
    except FileNotFoundError:
        return ImageLock()
    except OSError as error:
        raise SynthError(
            f"image lock {path} cannot be read ({error.strerror}): check its permissions, or "
            "write it again with `make lock-images ENV=<environment>`"
        ) from None
    if len(data) > MAX_LOCK_BYTES:
        raise _malformed(path, f"it is larger than {MAX_LOCK_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
        _refuse_indirection(text, path)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise _malformed(path, "it is not UTF-8 text") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise _malformed(path, f"it is not valid YAML{line}") from None
    return _ImageLockReader(path).lock(root)


def render_lock(lock: ImageLock) -> str:
    """The file's text: the header, then every entry sorted, one per line."""
    environments = {
        name: dict(sorted(digests.items())) for name, digests in lock.environments.items()
    }
    body = yaml.safe_dump({"environments": environments}, sort_keys=True, default_flow_style=False)
    return f"{HEADER}version: {FORMAT_VERSION}\n{body}"


def update_lock(path: Path, environment: str, digests: Mapping[str, str]) -> ImageLock:
    """Replace ``environment``'s entries in the lock at ``path``; the others stay as they are."""
    pending = path.with_name(path.name + ".lock")
    try:
        descriptor = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise SynthError(
            f"{pending} exists: another `make lock-images` is writing {path.name}, or one was "
            "killed while writing; if none is running, remove that file and run the command "
            "again"
        ) from None
    except OSError as error:
        raise SynthError(
            f"cannot create {pending} to update the image lock ({error.strerror}): check the "
            "directory's permissions"
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            # Read under the lock: a concurrent writer's other environments are kept.
            lock = read_lock(path).with_environment(environment, digests)
            file.write(render_lock(lock))
            file.flush()
            os.fsync(file.fileno())
        os.replace(pending, path)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    return lock


def _refuse_indirection(text: str, path: Path) -> None:
    """Anchors, aliases and explicit tags: the lock never needs them, and each lets the text a
    reviewer reads mean something else."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _malformed(path, "it uses YAML anchors or aliases")
        tag = getattr(event, "tag", None)  # scalars and collections carry one when written
        if tag is not None:
            raise _malformed(path, f"it uses the YAML tag '{printable(str(tag))}'")


def _malformed(path: Path, what: str) -> SynthError:
    return SynthError(
        f"image lock {path} is malformed: {what}; restore it from git, or write it again with "
        "`make lock-images ENV=<environment>`"
    )


class _ImageLockReader:
    """Walks the composed YAML nodes (no anchors, aliases or tags: checked before)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lock(self, root: yaml.Node | None) -> ImageLock:
        if root is None:
            raise self._malformed("it is empty")
        top = self._mapping(root, "the file")
        if set(top) != {"version", "environments"}:
            unknown = sorted(set(top) - {"version", "environments"})
            what = f"unknown keys {unknown}" if unknown else "'version' or 'environments' missing"
            raise self._malformed(f"{what} (it holds exactly 'version' and 'environments')")
        version = top["version"]
        if not (
            isinstance(version, yaml.ScalarNode)
            and version.tag == _INT
            and version.value == str(FORMAT_VERSION)
        ):
            raise self._malformed(f"'version' is not {FORMAT_VERSION}")
        environments = {
            name: MappingProxyType(self._environment(name, node))
            for name, node in self._mapping(top["environments"], "'environments'").items()
        }
        return ImageLock(MappingProxyType(environments))

    def _environment(self, name: str, node: yaml.Node) -> dict[str, str]:
        digests: dict[str, str] = {}
        for reference, value in self._mapping(node, f"environment '{name}'").items():
            try:
                image = ImageRef.parse(reference)
            except SynthError as error:
                raise self._malformed(f"environment '{name}': {error}") from None
            if image.tag is None or image.digest is not None or str(image) != reference:
                raise self._malformed(
                    f"environment '{name}': key '{printable(reference)}' is not written as "
                    "repository:tag (a digest belongs in the value)"
                )
            digest = self._string(value, f"the digest of '{reference}'")
            if not _DIGEST.fullmatch(digest):
                raise self._malformed(
                    f"environment '{name}': the digest of '{reference}' is not "
                    "sha256:<64 lowercase hex digits>"
                )
            digests[reference] = digest
        return digests

    def _mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self._malformed(f"{what} is not a mapping")
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self._string(key_node, f"a key in {what}")
            if key in entries:
                raise self._malformed(f"{what} has the key '{printable(key)}' twice")
            entries[key] = value_node
        return entries

    def _string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STRING:
            raise self._malformed(f"{what} is not a string")
        return str(node.value)

    def _malformed(self, what: str) -> SynthError:
        return _malformed(self.path, what)
