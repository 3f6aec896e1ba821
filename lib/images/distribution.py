"""A client of the OCI distribution API, reduced to what locking needs: a tag's manifest digest.

One ``GET /v2/<name>/manifests/<tag>`` per image, accepting an OCI index or manifest and a Docker
manifest list or v2 manifest, so a multi-arch image is locked by its index (every platform) and
never by the manifest of whatever platform this machine has. The digest is the sha256 of the
bytes as served, computed here; the registry's ``Docker-Content-Digest`` must agree with it.

Anonymous access only: registries that want a token for public images (ghcr.io, Docker Hub) get
the bearer-token dance from their ``WWW-Authenticate`` challenge, without credentials. HTTPS,
except for registries on localhost and 127.0.0.1, which container runtimes also reach over plain
HTTP. Every failure is a ``SynthError`` naming the image and what to do; no token is ever shown.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import IO

from lib.errors import SynthError, printable
from lib.specs.image import ImageRef

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Indexes first: a registry that can serve either then serves the multi-arch one.
MANIFEST_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
DESCRIPTIONS = {
    OCI_INDEX: "OCI image index",
    DOCKER_MANIFEST_LIST: "Docker manifest list",
    OCI_MANIFEST: "OCI image manifest",
    DOCKER_MANIFEST: "Docker v2 manifest",
}
# The distribution registry refuses manifests over 4 MiB; a larger answer is not a manifest.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 30.0
# Reached over plain HTTP, as Docker and containerd treat them; everything else needs HTTPS.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB_API = "registry-1.docker.io"
_CHALLENGE_PARAMETER = re.compile(r'([A-Za-z]+)="([^"]*)"')
_ERROR_CODE = re.compile(r"[A-Z_]{1,64}")
_DIGEST_HEADER = re.compile(r"(sha256|sha384|sha512):([a-f0-9]{64,128})")


@dataclass(frozen=True)
class Repository:
    """Where a reference's manifests are served: the registry's API root and the repository
    name under ``/v2/``. ``docker.io/valkey`` is ``https://registry-1.docker.io`` and
    ``library/valkey``; a reference without a registry host is on Docker Hub."""

    base_url: str
    name: str

    @classmethod
    def of(cls, image: ImageRef) -> Repository:
        first, _, rest = image.repository.partition("/")
        # As github.com/distribution/reference: a registry host has a dot or a port, or is
        # localhost; otherwise the whole path is a Docker Hub name.
        if rest and ("." in first or ":" in first or first == "localhost"):
            host, name = first, rest
        else:
            host, name = "docker.io", image.repository
        if host in DOCKER_HUB_HOSTS:
            host = DOCKER_HUB_API
            if "/" not in name:
                name = f"library/{name}"
        return cls(base_url=f"{_scheme_of(host)}://{host}", name=name)

    @property
    def loopback(self) -> bool:
        return _is_loopback(urllib.parse.urlsplit(self.base_url).hostname or "")


@dataclass(frozen=True)
class ResolvedManifest:
    """What a tag pointed at when asked: its digest and what kind of manifest it is."""

    digest: str
    media_type: str

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.media_type]


def resolve_tag(image: ImageRef, *, timeout: float = TIMEOUT_SECONDS) -> ResolvedManifest:
    """The digest of the manifest ``image``'s tag names now, verified; ``SynthError`` if the
    registry cannot tell it for certain."""
    if image.tag is None:
        raise ValueError(f"{image} has no tag to resolve")  # callers resolve tags only
    return _Client(image, Repository.of(image), timeout).resolve(image.tag)


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes


class _Client:
    def __init__(self, image: ImageRef, repository: Repository, timeout: float) -> None:
        self.image = image
        self.repository = repository
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [
            _VerifiedRedirects(repository.loopback),
            urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        ]
        if repository.loopback:
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
        self.opener = urllib.request.build_opener(*handlers)

    def resolve(self, tag: str) -> ResolvedManifest:
        url = f"{self.repository.base_url}/v2/{self.repository.name}/manifests/{tag}"
        accept = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        response = self._get(url, accept, token=None, limit=MAX_MANIFEST_BYTES)
        if response.status == 401:
            token = self._anonymous_token(response.headers.get("WWW-Authenticate", ""))
            response = self._get(url, accept, token=token, limit=MAX_MANIFEST_BYTES)
        if response.status in (401, 403):
            raise self._refused(f"HTTP {response.status}")
        if response.status == 404:
            raise self._error(
                f"the registry has no manifest for tag '{tag}'{_error_code(response.body)}",
                "check the tag in lib/environments.py against the image's published tags",
            )
        if response.status != 200:
            raise self._error(
                f"the registry answered HTTP {response.status}{_error_code(response.body)}",
                "try again later, or ask the registry's operator",
            )
        return self._verified(response)

    def _verified(self, response: _Response) -> ResolvedManifest:
        media_type = (response.headers.get_content_type() or "").lower()
        if media_type not in MANIFEST_MEDIA_TYPES:
            raise self._error(
                f"the registry served '{printable(media_type)[:100]}', which is none of an OCI "
                "index or manifest, a Docker manifest list or a Docker v2 manifest",
                "push the image with a current client (schema 1 images cannot be pinned)",
            )
        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed is not None and not _same_digest(claimed.strip(), response.body):
            raise self._error(
                f"the manifest served hashes to {digest}, but the registry's "
                f"Docker-Content-Digest says '{printable(claimed)[:150]}', so the bytes were "
                "changed between the registry's storage and here",
                "do not pin it; find out what alters the registry's answers (its storage, a "
                "proxy, a mirror) before locking again",
            )
        try:
            document = json.loads(response.body)
        except ValueError:
            document = None
        if (
            not isinstance(document, dict)
            or document.get("schemaVersion") != 2
            or document.get("mediaType", media_type) != media_type
        ):
            raise self._error(
                f"the registry served a body that is not a schema 2 {DESCRIPTIONS[media_type]}",
                "try again later, or ask the registry's operator",
            )
        return ResolvedManifest(digest=digest, media_type=media_type)

    def _anonymous_token(self, challenge: str) -> str:
        """The bearer token the challenge's realm hands anyone, for pulling this repository."""
        scheme, _, parameters = challenge.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise self._refused(
                "it asks for a login"
                if scheme.lower() == "basic"
                else "HTTP 401 without a bearer challenge"
            )
        fields = dict(_CHALLENGE_PARAMETER.findall(parameters))
        realm = fields.get("realm", "")
        if not _allowed_url(realm, self.repository.loopback):
            raise self._error(
                f"the registry's token service '{printable(realm)[:200]}' is not an https:// "
                "URL (plain http:// only from and to localhost or 127.0.0.1)",
                "ask the registry's operator; a token is never requested over plain HTTP",
            )
        query = {"scope": fields.get("scope") or f"repository:{self.repository.name}:pull"}
        if "service" in fields:
            query["service"] = fields["service"]
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        response = self._get(
            f"{realm}{separator}{urllib.parse.urlencode(query)}",
            {"Accept": "application/json"},
            token=None,
            limit=MAX_TOKEN_RESPONSE_BYTES,
        )
        if response.status != 200:
            raise self._refused(f"its token service answered HTTP {response.status}")
        try:
            answer = json.loads(response.body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not (isinstance(token, str) and token and token.isascii() and token.isprintable()):
            raise self._error(
                "the registry's token service answered without a usable token",
                "try again later, or ask the registry's operator",
            )
        return token

    def _get(
        self, url: str, headers: dict[str, str], *, token: str | None, limit: int
    ) -> _Response:
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - checked schemes
        if token is not None:
            # Unredirected: a redirect to another host never carries the token along.
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return _Response(response.status, response.headers, _read(response, limit))
            except urllib.error.HTTPError as error:
                with error:
                    return _Response(error.code, error.headers, _read(error, limit))
        except _TooLarge:
            raise self._error(
                f"the registry's answer is larger than {limit // 1024} KiB, "
                "so it is not a manifest",
                "check the registry host in the image reference",
            ) from None
        except _RefusedRedirect as refused:
            raise self._error(
                f"the registry redirected to '{printable(refused.target)[:200]}', which is not "
                "https:// (plain http:// only from and to localhost or 127.0.0.1)",
                "ask the registry's operator",
            ) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from None

    def _unreachable(self, reason: object) -> SynthError:
        if isinstance(reason, TimeoutError):
            told = f"no answer within {self.timeout:g} s"
        elif isinstance(reason, ssl.SSLCertVerificationError):
            told = f"its TLS certificate is not trusted: {reason.verify_message}"
        elif isinstance(reason, OSError) and reason.strerror:
            told = reason.strerror
        else:
            told = str(reason) or type(reason).__name__
        return self._error(
            f"cannot reach the registry ({printable(told)[:200]})",
            "check the registry host and port in lib/environments.py and your network",
        )

    def _refused(self, how: str) -> SynthError:
        return self._error(
            f"the registry refused anonymous access to '{self.repository.name}' ({how})",
            "check the repository name; a private image is not locked by this command: "
            "append its @sha256 digest in lib/environments.py (docs/images.md)",
        )

    def _error(self, what: str, todo: str) -> SynthError:
        return SynthError(f"image '{self.image}' at {self.repository.base_url}: {what}: {todo}")


class _TooLarge(Exception):
    pass


class _RefusedRedirect(urllib.error.URLError):
    def __init__(self, target: str) -> None:
        super().__init__("redirect refused")
        self.target = target


class _VerifiedRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects stay on HTTPS (blobs on a CDN are fine; a downgrade to plain HTTP is not)."""

    def __init__(self, loopback_registry: bool) -> None:
        self.loopback_registry = loopback_registry

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not _allowed_url(newurl, self.loopback_registry):
            raise _RefusedRedirect(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read(response: IO[bytes], limit: int) -> bytes:
    body = response.read(limit + 1)
    if len(body) > limit:
        raise _TooLarge
    return body


def _same_digest(claimed: str, body: bytes) -> bool:
    match = _DIGEST_HEADER.fullmatch(claimed)
    if match is None:
        return False
    algorithm, expected = match.groups()
    return hashlib.new(algorithm, body).hexdigest() == expected


def _error_code(body: bytes) -> str:
    """The registry's error code (``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``), if it gave one."""
    try:
        code = json.loads(body)["errors"][0]["code"]
    except (ValueError, LookupError, TypeError):
        return ""
    return f" ({code})" if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else ""


def _is_loopback(hostname: str) -> bool:
    return hostname in LOOPBACK_HOSTS


def _scheme_of(host: str) -> str:
    return "http" if _is_loopback(host.rpartition(":")[0] or host) else "https"


def _allowed_url(url: str, loopback_registry: bool) -> bool:
    """HTTPS; plain HTTP only from a loopback registry to loopback, so that no registry out
    there can send this command, or its token, to a port on this machine or in the clear."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return loopback_registry and parts.scheme == "http" and _is_loopback(parts.hostname or "")
