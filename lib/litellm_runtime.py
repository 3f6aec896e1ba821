"""What the pinned LiteLLM proxy needs at run time beyond its config: the paths it writes.

The container runs with a read-only root filesystem, so every path the proxy writes must be a
mounted ``emptyDir``, and the proxy is pointed at those mounts through variables where it lets
us. This list is measured on the pinned release (by reading its source and by running it locked
down in tests/test_litellm_e2e.py), not guessed; change it together with the pinned image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The numeric user of the litellm-non_root image ("nobody").
PROXY_UID = 65534
PROXY_GID = 65534


@dataclass(frozen=True)
class WritableMount:
    """One emptyDir the proxy writes to: volume name, mount path, size limit and why."""

    name: str
    path: str
    size_limit_mib: int
    why: str


# Provisional until measured: /tmp is the one path known to be needed (shared/REFERENCE.md).
WRITABLE_MOUNTS: tuple[WritableMount, ...] = (
    WritableMount(name="tmp", path="/tmp", size_limit_mib=256, why="temporary files"),  # noqa: S108
)

# Plain variables that point the proxy's writes into WRITABLE_MOUNTS.
RUNTIME_ENV: Mapping[str, str] = MappingProxyType({})
