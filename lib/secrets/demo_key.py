"""The public demo key that decrypts the example secrets file, and when it may be used.

Its private half is committed (secrets/demo-age-key.txt) so that a fresh clone synthesizes with
no setup. Anything encrypted to it is public: it is used only for files encrypted to it, only in
environments that allow it, and never for production.
"""

from __future__ import annotations

from lib.environments import Environment
from lib.errors import SynthError
from lib.project import PROJECT_ROOT
from lib.secrets.encrypted_file import EncryptedFile
from lib.secrets.sops import AgeIdentity

DEMO_KEY_FILE = PROJECT_ROOT / "secrets" / "demo-age-key.txt"
# The public half of DEMO_KEY_FILE (a test checks that they match).
DEMO_RECIPIENT = "age13a7e43mc4vw2sffe3nd4x2d5pr5jg6mhq9um49sv5jcauw3gz5ssgtt9m3"


def demo_identity_for(secrets: EncryptedFile, environment: Environment) -> AgeIdentity | None:
    """The demo key if ``secrets`` is encrypted to it, else None (the user's keys apply)."""
    if DEMO_RECIPIENT not in secrets.age_recipients:
        return None
    if not environment.allow_demo_key:
        raise SynthError(
            f"{secrets.path} is encrypted to the public demo key, so anyone can read it, and "
            f"environment '{environment.name}' refuses that: re-encrypt it to your own age key "
            "(see README, 'Switch to your own age key')"
        )
    return AgeIdentity(key_file=DEMO_KEY_FILE)
