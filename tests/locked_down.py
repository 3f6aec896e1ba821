"""Start a composed container as the pod would run it: its user, and a read-only filesystem
except its emptyDirs.

Needs root (the tests run as root on these machines) and util-linux. The command it builds:

1. ``unshare --mount --propagation private``: a mount namespace of the process's own; nothing
   below is seen by the host, and it all vanishes with the process.
2. A mount point that does not exist here (``/etc/litellm``, ``/var/lib/litellm/ui``) is made
   inside an overlay over its nearest existing ancestor, whose writes land on a scratch tmpfs,
   so the host's directories are never touched.
3. Each ConfigMap directory is bind-mounted at its real mount path, so the args are the
   Deployment's own.
4. Every mount is remounted read-only, deepest first: the root, the proxy's installation, the
   test's files, ``/dev/shm``. A write anywhere fails with EROFS, loudly.
5. Each emptyDir becomes a tmpfs of its sizeLimit (mode 0777 and owned by root, as the kubelet
   makes an emptyDir's root).
6. ``setpriv`` drops to the pod's user and groups, with no new privileges and no capabilities
   when the container's securityContext asks for that, and execs the program from ``/`` (the
   image's working directory is read-only too).

Differences from a pod, on purpose and small: the network and PID namespaces are the host's
(the proxy listens on 127.0.0.1), seccomp is not applied, and an emptyDir is memory here where
the kubelet uses node disk (a full one is ENOSPC here, an eviction there).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from tests.pod_runtime import ContainerProcess, UnsupportedPodSpec

SCRATCH_BYTES = 4 * 1024 * 1024


def command(container: ContainerProcess, argv: Sequence[str], scratch: Path) -> list[str]:
    """The argv that runs ``argv`` locked down as ``container`` says; ``scratch`` is an empty
    directory of the caller's that the namespace covers with a tmpfs."""
    if not container.read_only_root_filesystem:
        raise UnsupportedPodSpec("only a container with readOnlyRootFilesystem runs locked down")
    if not container.run_as_non_root or not container.user or container.group is None:
        raise UnsupportedPodSpec("only a container with runAsNonRoot and a numeric non-root user")

    mount_points = [m.path for m in container.config_mounts] + [
        m.path for m in container.writable_mounts
    ]
    existing_mounts = _mount_points()
    overlays: list[str] = []
    missing: list[str] = []
    for path in mount_points:
        _refuse_odd(path)
        if Path(path).is_dir():
            continue
        ancestor = _nearest_existing_ancestor(path)
        if any(_strictly_below(m, ancestor) for m in existing_mounts) or ancestor == "/":
            raise UnsupportedPodSpec(f"cannot make {path}: {ancestor} holds other mounts")
        if ancestor not in overlays:
            overlays.append(ancestor)
        missing.append(path)

    lines = ["set -eu", f"mount -t tmpfs -o size={SCRATCH_BYTES},mode=0700 scratch {_q(scratch)}"]
    for index, ancestor in enumerate(overlays):
        upper, work = scratch / f"upper{index}", scratch / f"work{index}"
        lines += [
            f"mkdir {_q(upper)} {_q(work)}",
            "mount -t overlay overlay -o "
            + _q(f"lowerdir={ancestor},upperdir={upper},workdir={work}")
            + f" {_q(ancestor)}",
        ]
    lines += [f"mkdir -p {_q(path)}" for path in missing]
    lines += [f"mount --bind {_q(m.source)} {_q(m.path)}" for m in container.config_mounts]
    # Every mount there is at this point, deepest path first (a remount acts on the topmost
    # mount at a path, and a parent's path sorts before its children's).
    every_mount = {
        *existing_mounts,
        str(scratch),
        *overlays,
        *(m.path for m in container.config_mounts),
    }
    lines += [
        f"mount -o remount,bind,ro {_q(point)}" for point in sorted(every_mount, reverse=True)
    ]
    lines += [
        f"mount -t tmpfs -o size={m.size_bytes},mode=0777 {_q(m.name)} {_q(m.path)}"
        for m in container.writable_mounts
    ]
    lines += ["cd /", f'exec {shlex.join(as_user(container))} -- "$@"']
    script = "\n".join(lines)
    unshare = _tool("unshare")
    return [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", *argv]


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
    """Run ``argv`` inside the mount namespace of ``pid``, as the container's user."""
    return [_tool("nsenter"), f"--target={pid}", "--mount", "--", *as_user(container), "--", *argv]


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} not found: `make test` installs util-linux")
    return found


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _refuse_odd(path: str) -> None:
    # Overlay options are split on ',' and ':'; a mount path must be absolute and plain.
    if not path.startswith("/") or any(c in path for c in ",:\n") or ".." in path.split("/"):
        raise UnsupportedPodSpec(f"mount path {path!r}")


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
