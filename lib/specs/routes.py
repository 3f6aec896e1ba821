"""Publishing an app: the outside path or host that reaches it.

The spec says what is published, not how: today it becomes an Ingress on the environment's
ingress controller (lib/constructs/app_route.py). A Gateway API HTTPRoute, as the gateway's own
route gets (lib/constructs/gateway_route.py), renders the same spec with its own construct; only
the chart picks which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lib.errors import SynthError
from lib.specs.field_types import check_field_types

# A DNS name as an Ingress host takes it (no wildcard, no port).
_HOST = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


@dataclass(frozen=True)
class AppRoute:
    """Publish an app at ``path`` (a prefix: ``/hooks`` serves ``/hooks/stripe`` too) on
    ``host`` (None: the environment's host, with its TLS Secret). The app receives the path as
    requested, prefix included. Opens the app's port to the ingress controller, nothing else.
    """

    path: str = "/"
    host: str | None = None

    def __post_init__(self) -> None:
        check_field_types(self, "AppRoute ")
        if not _PATH.fullmatch(self.path):
            raise SynthError(
                f"app route path '{self.path}' must start with '/' and hold no spaces or "
                "quotes: write e.g. '/' or '/webhooks'"
            )
        if self.host is not None and (len(self.host) > 253 or not _HOST.fullmatch(self.host)):
            raise SynthError(
                f"app route host '{self.host}' is not a DNS name: write e.g. 'hooks.example.com' "
                "(no scheme, port or path), or None for the environment's host"
            )

    def within(self, prefix: str) -> bool:
        """Whether this route's path is ``prefix`` or below it: the longer prefix wins, so
        such a route would take requests from whoever serves ``prefix``."""
        path = self.path.rstrip("/")
        return path == prefix or path.startswith(f"{prefix}/")
