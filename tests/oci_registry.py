"""A real OCI registry on 127.0.0.1 and a real client pushing to it, for the image lock tests.

The registry is Debian's ``docker-registry`` (the CNCF distribution registry), started from its
binary with a config of ours (storage in a temporary directory, a free loopback port), never
Debian's service. A second one requires bearer tokens, as ghcr.io and Docker Hub do even for
public images: its token service is ours (``TokenService``, a thread here, since no packaged
one exists), issuing the JWTs the registry verifies against a certificate made at test time;
it hands tokens to anyone, as those registries do for public images, except for repositories
under ``private/``, whose tokens grant nothing. Images are tiny OCI layouts built here (one tar
layer, a config, a manifest or a two-platform index) and pushed with Debian's ``skopeo``, as a
user's client would.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.proxy_harness import _stop as stop_process_group
from tests.proxy_harness import free_port

START_TIMEOUT_SECONDS = 60
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# Accept-anything for a registry we run: skopeo must not depend on the host's policy.json.
_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


@dataclass(frozen=True)
class LocalRegistry:
    """A running registry: ``host`` is what image references name (``127.0.0.1:PORT``)."""

    host: str
    storage: Path
    work: Path

    def push(self, layout: Path, tag_in_layout: str, target: str, *, all_platforms: bool) -> None:
        """``skopeo copy`` of the layout's ``tag_in_layout`` to ``host/target`` (name:tag)."""
        _skopeo(
            self.work,
            "copy",
            *(["--all"] if all_platforms else []),
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag_in_layout}",
            f"docker://{self.host}/{target}",
        )

    def digest_by_client(self, target: str) -> str:
        """The sha256 of the manifest bytes skopeo reads back: the registry's view, by a client
        other than ours."""
        raw = _skopeo(
            self.work, "inspect", "--raw", "--tls-verify=false", f"docker://{self.host}/{target}"
        )
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def stored_manifest(self, digest: str) -> Path:
        """The file the registry serves the manifest ``digest`` from."""
        hexdigits = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigits[:2] / hexdigits / "data"


@dataclass
class TokenService:
    """The registry's token endpoint: who asked for what, and the key its tokens are signed by."""

    work: Path
    service: str = "local-registry"
    issuer: str = "local-token-service"
    # Per request: the query's parameters, and whether it carried an Authorization header.
    requests: list[tuple[dict[str, list[str]], bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key, self.certificate = self.work / "token-key.pem", self.work / "token-cert.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=local-token-service", "-keyout", str(self.key)),
                *("-out", str(self.certificate)),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.certificate), "-outform", "DER"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        self.chain = [base64.b64encode(der).decode()]

    def token(self, query: dict[str, list[str]]) -> str:
        """A JWT as the distribution registry verifies it (registry/auth/token): RS256, the
        certificate in ``x5c``, the grants in ``access``."""
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            if not name.startswith("private/"):
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.chain}
        claims = {
            "iss": self.issuer,
            "sub": "",
            "aud": query.get("service", [""])[0],
            "exp": now + 600,
            "nbf": now - 60,
            "iat": now,
            "jti": f"{now}-{len(self.requests)}",
            "access": access,
        }
        signed = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signed.encode(),
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        return f"{signed}.{_b64url(signature)}"

    def auth_config(self, realm: str) -> dict[str, Any]:
        return {
            "token": {
                "realm": realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.certificate),
            }
        }


@contextmanager
def serving_tokens(service: TokenService) -> Iterator[str]:
    """``service`` answering on a free 127.0.0.1 port; yields its realm URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            service.requests.append((query, "Authorization" in self.headers))
            body = json.dumps({"token": service.token(query)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: not the test's output
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def running_registry(work: Path, auth: dict[str, Any] | None = None) -> Iterator[LocalRegistry]:
    """A registry storing under ``work``; ``auth``: its ``auth`` config section, if any."""
    storage = work / "storage"
    storage.mkdir()
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        json.dumps(  # JSON is YAML: the registry reads this config as it is
            {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(storage)}},
                "http": {"addr": f"127.0.0.1:{port}"},
                **({"auth": auth} if auth is not None else {}),
            }
        )
    )
    (work / "policy.json").write_text(json.dumps(_POLICY))
    log = work / "registry.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(process, f"http://127.0.0.1:{port}/v2/", log, auth is not None)
        yield LocalRegistry(host=f"127.0.0.1:{port}", storage=storage, work=work)
    finally:
        stop_process_group(process)


def image_layout(directory: Path, tag: str, content: str) -> Path:
    """An OCI image layout holding one linux/amd64 image, tagged ``tag``, whose only layer has
    one file with ``content``: a different content is a different image."""
    blobs = _Blobs(directory)
    manifest = blobs.image("amd64", content)
    blobs.index_json(manifest, tag)
    return directory


def multi_arch_layout(directory: Path, tag: str) -> Path:
    """An OCI image layout whose ``tag`` is an image index of linux/amd64 and linux/arm64."""
    blobs = _Blobs(directory)
    platforms = []
    for architecture in ("amd64", "arm64"):
        descriptor = blobs.image(architecture, f"built for {architecture}")
        platforms.append({**descriptor, "platform": {"architecture": architecture, "os": "linux"}})
    index = blobs.add(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platforms}).encode(),
        OCI_INDEX,
    )
    blobs.index_json(index, tag)
    return directory


class _Blobs:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.blobs = directory / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)

    def add(self, data: bytes, media_type: str) -> dict[str, object]:
        hexdigits = hashlib.sha256(data).hexdigest()
        (self.blobs / hexdigits).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{hexdigits}", "size": len(data)}

    def image(self, architecture: str, content: str) -> dict[str, object]:
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            data = content.encode()
            member = tarfile.TarInfo("content.txt")
            member.size, member.mtime = len(data), 0
            tar.addfile(member, io.BytesIO(data))
        layer_descriptor = self.add(layer.getvalue(), "application/vnd.oci.image.layer.v1.tar")
        config = {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_descriptor["digest"]]},
            "config": {},
        }
        config_descriptor = self.add(
            json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_descriptor,
            "layers": [layer_descriptor],
        }
        return self.add(json.dumps(manifest).encode(), OCI_MANIFEST)

    def index_json(self, descriptor: dict[str, object], tag: str) -> None:
        tagged = {**descriptor, "annotations": {"org.opencontainers.image.ref.name": tag}}
        (self.directory / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "manifests": [tagged]})
        )
        (self.directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


def _skopeo(work: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["skopeo", "--policy", str(work / "policy.json"), *args],
        capture_output=True,
        timeout=120,
        check=False,
        # No user's login or registries.conf: every reference here is fully qualified.
        env={"PATH": os.environ["PATH"], "HOME": str(work)},
    )
    if result.returncode != 0:
        pytest.fail(f"skopeo {args[0]} failed ({result.returncode}): {result.stderr.decode()}")
    return result.stdout


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _wait_until_serving(
    process: subprocess.Popen[bytes], url: str, log: Path, challenges: bool
) -> None:
    """Until ``GET /v2/`` answers 200, or 401 from a registry that ``challenges`` for tokens."""
    ready = {200, 401} if challenges else {200}
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}:\n{log.read_text()}")
        try:
            with direct.open(url, timeout=5) as response:
                if response.status in ready:
                    return
        except urllib.error.HTTPError as error:
            error.close()
            if error.code in ready:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"docker-registry did not serve {url} within {START_TIMEOUT_SECONDS} s")
