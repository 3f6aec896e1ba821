"""Start a composed container as the pod would run it: its user, and a read-only filesystem
except its emptyDirs, each at its real path.

Needs root (the tests run as root on these machines) and util-linux. The command it builds:

1. ``unshare --mount --propagation private``: a mount namespace of the process's own; nothing
   below is seen by the host, and it all vanishes with the process.
2. A new root on a scratch tmpfs: an overlay whose lower layer is the host's root filesystem
   and whose upper layer is on the scratch tmpfs, with every other mount of the host
   (``/proc``, ``/dev``, ...) bound recursively at its place. A mount point the image would
   have but the host lacks (``/etc/litellm``, ``/data``) is made in that upper layer, so the
   host's directories are never touched, even for a new top-level directory.
3. Each ConfigMap directory is bind-mounted at its real mount path, so the args are the
   Deployment's own. Paths are resolved like the container runtime does, within the root
   (``/var/run`` -> ``/run``): a symlink never leads a mount out of the new root.
4. Every mount is remounted read-only, deepest first: the new root, the host mounts bound into
   it (the proxy's installation, the test's files, ``/dev/shm``), and the namespace's own copies
   of the host's mounts. A write anywhere fails with EROFS, loudly.
5. Each emptyDir becomes a tmpfs of its sizeLimit (mode 0777 and owned by root, as the kubelet
   makes an emptyDir's root).
6. ``chroot`` into the new root, then ``setpriv`` drops to the pod's user and groups, with no
   new privileges and no capabilities when the container's securityContext asks for that, and
   execs the program from ``/`` (the image's working directory is read-only too).

Differences from a pod, on purpose and small: the network and PID namespaces are the host's
(the proxy listens on 127.0.0.1), seccomp is not applied, the image's files are the host's
(read-only), and an emptyDir is memory here where the kubelet uses node disk (a full one is
ENOSPC here, an eviction there).
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from tests.pod_runtime import ContainerProcess, UnsupportedPodSpec

SCRATCH_BYTES = 4 * 1024 * 1024
NEW_ROOT = "root"


def command(
    container: ContainerProcess, argv: Sequence[str], scratch: Path, *, keep: Sequence[Path] = ()
) -> list[str]:
    """The argv that runs ``argv`` locked down as ``container`` says; ``scratch`` is an empty
    directory of the caller's that the namespace covers with a tmpfs holding the new root.

    ``keep``: host directories the program is installed in (the checkout with its proxy venv).
    In a pod they are the image's files; here, when a checkout lies below an emptyDir's path
    (a clone in /tmp), the emptyDir's tmpfs would hide them, so they are bound back, read-only,
    at their own paths inside it (``kept_entries`` says which names that adds to an emptyDir).
    """
    if not container.read_only_root_filesystem:
        raise UnsupportedPodSpec("only a container with readOnlyRootFilesystem runs locked down")
    if not container.run_as_non_root or not container.user or container.group is None:
        raise UnsupportedPodSpec("only a container with runAsNonRoot and a numeric non-root user")

    host_mounts = _mount_points()
    other_mounts = [m for m in host_mounts if m != "/"]
    # Bound recursively, so only the outermost ones: /dev brings /dev/shm along.
    outermost = [
        m
        for m in dict.fromkeys(other_mounts)
        if not any(_strictly_below(m, o) for o in other_mounts)
    ]
    if any(c in str(scratch) for c in ",:\n"):
        raise UnsupportedPodSpec(f"scratch {scratch}: overlay options cannot hold ',' or ':'")
    root = scratch / NEW_ROOT

    def inside(path: str) -> str:
        return f"{root}{path}"

    config_targets = [_resolved(m.path) for m in container.config_mounts]
    writable_targets = [_resolved(m.path) for m in container.writable_mounts]
    missing: list[str] = []
    for path in [*config_targets, *writable_targets]:
        if Path(path).is_dir():
            continue
        ancestor = _nearest_existing_ancestor(path)
        if any(ancestor == m or _strictly_below(ancestor, m) for m in other_mounts):
            raise UnsupportedPodSpec(
                f"cannot make {path}: {ancestor} is not on the root filesystem"
            )
        missing.append(path)

    lines = [
        "set -eu",
        f"mount -t tmpfs -o size={SCRATCH_BYTES},mode=0700 scratch {_q(scratch)}",
        f"mkdir {_q(scratch / 'upper')} {_q(scratch / 'work')} {_q(root)}",
        "mount -t overlay overlay -o "
        + _q(f"lowerdir=/,upperdir={scratch / 'upper'},workdir={scratch / 'work'}")
        + f" {_q(root)}",
    ]
    lines += [f"mount --rbind {_q(m)} {_q(inside(m))}" for m in outermost]
    lines += [f"mkdir -p {_q(inside(path))}" for path in missing]
    lines += [
        f"mount --bind {_q(m.source)} {_q(inside(target))}"
        for m, target in zip(container.config_mounts, config_targets, strict=True)
    ]
    # Every mount there is at this point, deepest path first (a remount acts on the topmost
    # mount at a path, and a parent's path sorts before its children's).
    every_mount = {
        *host_mounts,
        str(scratch),
        str(root),
        *(inside(m) for m in other_mounts),
        *(inside(target) for target in config_targets),
    }
    lines += [
        f"mount -o remount,bind,ro {_q(point)}" for point in sorted(every_mount, reverse=True)
    ]
    lines += [
        f"mount -t tmpfs -o size={m.size_bytes},mode=0777 {_q(m.name)} {_q(inside(target))}"
        for m, target in zip(container.writable_mounts, writable_targets, strict=True)
    ]
    for path in _kept_below_emptydirs(container, keep):
        lines += [
            f"mkdir -p {_q(inside(path))}",
            f"mount --bind {_q(path)} {_q(inside(path))}",
            f"mount -o remount,bind,ro {_q(inside(path))}",
        ]
    lines += [f'exec {_tool("chroot")} {_q(root)} {shlex.join(as_user(container))} -- "$@"']
    script = "\n".join(lines)
    unshare = _tool("unshare")
    return [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", *argv]


def kept_entries(container: ContainerProcess, keep: Sequence[Path]) -> dict[str, set[str]]:
    """Per emptyDir path, the names ``command`` adds to it to bind ``keep`` back: not written
    by the program, so a check of what it wrote leaves them out."""
    entries: dict[str, set[str]] = {m.path: set() for m in container.writable_mounts}
    for mount in container.writable_mounts:
        target = _resolved(mount.path)
        for path in _kept_below_emptydirs(container, keep):
            if _strictly_below(path, target):
                entries[mount.path].add(PurePosixPath(path).relative_to(target).parts[0])
    return entries


def _kept_below_emptydirs(container: ContainerProcess, keep: Sequence[Path]) -> list[str]:
    targets = [_resolved(m.path) for m in container.writable_mounts]
    kept = []
    for path in (os.path.realpath(k) for k in keep):
        if path in targets:
            raise UnsupportedPodSpec(f"{path} is an emptyDir's own path: move the checkout")
        if any(_strictly_below(path, target) for target in targets):
            kept.append(path)
    return kept


def as_user(container: ContainerProcess) -> list[str]:
    """``setpriv`` with the pod's user, groups and privilege rules; append ``--`` and a program."""
    groups = (
        [f"--groups={','.join(map(str, container.supplementary_groups))}"]
        if container.supplementary_groups
        else ["--clear-groups"]
    )
    argv = [_tool("setpriv"), f"--reuid={container.user}", f"--regid={container.group}", *groups]
    if container.no_new_privileges:
        argv.append("--no-new-privs")
    if container.drops_all_capabilities:
        argv += ["--inh-caps=-all", "--bounding-set=-all"]
    return argv


def in_namespace_of(pid: int, container: ContainerProcess, argv: Sequence[str]) -> list[str]:
    """Run ``argv`` inside the mount namespace and root of ``pid``, as the container's user."""
    return [
        _tool("nsenter"),
        f"--target={pid}",
        "--mount",
        "--root",
        "--wd",
        "--",
        *as_user(container),
        "--",
        *argv,
    ]


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} not found: `make test` installs util-linux")
    return found


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _resolved(path: str) -> str:
    """``path`` with the symlinks of its existing part followed, as the container runtime
    resolves a mount path within the container's root (here the host's root is the image's)."""
    if not path.startswith("/") or "\n" in path or ".." in path.split("/"):
        raise UnsupportedPodSpec(f"mount path {path!r}")
    return os.path.realpath(path)


def _nearest_existing_ancestor(path: str) -> str:
    for parent in PurePosixPath(path).parents:
        if Path(parent).is_dir():
            return str(parent)
    return "/"


def _strictly_below(path: str, ancestor: str) -> bool:
    return PurePosixPath(ancestor) in PurePosixPath(path).parents


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        return [
            line.split()[4].encode().decode("unicode_escape") for line in mountinfo if line.strip()
        ]
