"""The apps that consume secret groups."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumerAppSpec:
    """An app that consumes secret groups through envFrom.

    ``run_as_user`` must be a numeric user the image can run as: the pod refuses to start an
    image whose USER is root or a name when ``runAsNonRoot`` is set, as it is for every app.
    """

    name: str
    image: str
    port: int
    secret_groups: tuple[str, ...]
    args: tuple[str, ...] = ()
    replicas: int = 1
    run_as_user: int = 65534
