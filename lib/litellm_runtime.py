"""What the pinned LiteLLM proxy needs at run time beyond its config: the paths it writes.

The container runs with a read-only root filesystem, so every path the proxy writes must be a
mounted ``emptyDir``, and the proxy is pointed at those mounts through variables where it lets
us. Measured on litellm[proxy]==1.106.2, not guessed; change it together with the pinned image:

- by reading its source: ``tempfile`` probes and uses ``$TMPDIR`` (default ``/tmp``); the admin
  UI is copied at start into ``LITELLM_UI_PATH`` when that differs from the packaged copy, then
  rewritten in place for ``SERVER_ROOT_PATH`` (``proxy/proxy_server.py``); without a writable
  copy it logs "Cannot apply server_root_path replacements" and the UI's links miss the prefix.
- by running it: as uid 65534 in a private mount namespace with every mount read-only except
  these tmpfs mounts, traced with ``strace -f`` through boot, probes, ``/v1/models``, a chat
  request, ``/utils/token_counter``, ``/get_image`` and ``/ui``: the only writes are the
  ``tempfile`` probe in ``/tmp`` and the UI copy; no EROFS or EACCES anywhere. The end-to-end test
  (tests/test_litellm_e2e.py) keeps proving it on every run.

Not needed by this deployment, so not mounted (each would fail loudly on the read-only root,
not silently): ``LITELLM_MIGRATION_DIR`` and Prisma's binary cache (only with ``DATABASE_URL``);
nothing is written under ``$HOME`` or ``$XDG_CACHE_HOME`` (tiktoken reads the tokenizers bundled
in the package). With metrics, ``PROMETHEUS_MULTIPROC_DIR`` gets an emptyDir of its own
(``lib.specs.metrics.MULTIPROC_MOUNT``); tests/test_scaling_e2e.py runs two replicas locked down
with it and checks the samples land there.
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


TMP_MOUNT = WritableMount(
    name="tmp",
    path="/tmp",  # noqa: S108 - an emptyDir of the pod's own, not a shared host /tmp
    size_limit_mib=256,
    why="Python's tempfile: probed at start; uploaded files over 1 MiB spool here (starlette)",
)
UI_MOUNT = WritableMount(
    name="ui",
    path="/var/lib/litellm/ui",
    size_limit_mib=64,
    why="the admin UI (19 MiB) copied at start and rewritten for SERVER_ROOT_PATH",
)
WRITABLE_MOUNTS: tuple[WritableMount, ...] = (TMP_MOUNT, UI_MOUNT)

# Plain variables of every LiteLLM container: where its writes go (WRITABLE_MOUNTS), and what it
# must not fetch at start.
RUNTIME_ENV: Mapping[str, str] = MappingProxyType(
    {
        # Python's default already; set so an image with its own TMPDIR still writes to the mount.
        "TMPDIR": TMP_MOUNT.path,
        # A directory the proxy creates itself inside the mount: its copy ends by setting the
        # target's timestamps, which only the owner may do, and an emptyDir's root is root's.
        "LITELLM_UI_PATH": f"{UI_MOUNT.path}/served",
        # The model cost map bundled with the pinned release, instead of a fetch from
        # raw.githubusercontent.com at every boot (litellm/__init__.py imports it; the image's
        # `litellm` entrypoint is not one of the CLI names that skip the fetch): no start-up
        # dependency on GitHub, and prices that match the code that reads them.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
)
