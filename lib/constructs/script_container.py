"""Containers that run one of our scripts (``lib/gateway_keys``) in LiteLLM's own image.

The image is one the cluster already pulls and trusts, and it has Python and ``psycopg``. The
scripts arrive in a ConfigMap; the container runs as LiteLLM's non-root user under Pod Security
"restricted" with a read-only root filesystem and a small ``/tmp``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib import litellm_runtime
from lib.constructs.workload import resources, restricted_container_security
from lib.specs.image import ImageRef

SCRIPTS_SOURCE = Path(__file__).resolve().parents[1] / "gateway_keys"


def script_config_map(
    scope: Construct, construct_id: str, *, name: str, scripts: Mapping[str, str]
) -> kplus.ConfigMap:
    """A ConfigMap holding ``scripts``: file name in the pod -> file under
    ``lib/gateway_keys``, shipped as it is (it imports nothing of ours)."""
    return kplus.ConfigMap(
        scope,
        construct_id,
        metadata=cdk8s.ApiObjectMetadata(
            name=name, labels={"app.kubernetes.io/component": "gateway-scripts"}
        ),
        data={
            target: (SCRIPTS_SOURCE / source).read_text(encoding="utf-8")
            for target, source in scripts.items()
        },
    )


def script_container(
    scope: Construct,
    *,
    name: str,
    image: ImageRef,
    scripts: kplus.ConfigMap,
    mount_path: str,
    args: Sequence[str],
    env: Mapping[str, kplus.EnvValue],
    extra_mounts: Sequence[kplus.VolumeMount] = (),
) -> kplus.ContainerProps:
    """``python <mount_path>/<args...>`` in ``image``; ``env`` holds every variable it gets
    (nothing through envFrom: a script receives exactly the keys it reads)."""
    volume = kplus.Volume.from_config_map(scope, f"{name}-scripts", scripts, name=f"{name}-scripts")
    tmp = kplus.Volume.from_empty_dir(
        scope, f"{name}-tmp", f"{name}-tmp", size_limit=cdk8s.Size.mebibytes(16)
    )
    return kplus.ContainerProps(
        name=name,
        image=str(image),
        image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command=["python", *args],
        env_variables={"TMPDIR": kplus.EnvValue.from_value("/tmp"), **env},  # noqa: S108
        volume_mounts=[
            kplus.VolumeMount(path=mount_path, volume=volume, read_only=True),
            kplus.VolumeMount(path="/tmp", volume=tmp),  # noqa: S108 - the pod's own emptyDir
            *extra_mounts,
        ],
        security_context=restricted_container_security(
            user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
        ),
        resources=resources(cpu_request_millis=50, memory_request_mib=96, memory_limit_mib=256),
    )
