"""``python -m lib.images --env NAME [--lock FILE]`` (what ``make lock-images ENV=NAME`` runs).

Resolves every tag-only image of the environment to its registry's current digest, then
replaces that environment's entries in the lock file; other environments' entries stay. Exit 0
with one line per image; a failure is one ``error:`` line, exit 1, and the lock unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from lib.environments import DEFAULT_ENVIRONMENT, ENVIRONMENTS, Environment, environment_named
from lib.errors import SynthError, print_error
from lib.images.lock import LOCK_FILE, update_lock
from lib.images.resolve import lock_entries, resolve_environment
from lib.signals import Interrupted, settle, signals_interrupt


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"error: {self.prog}: {message}: see `python -m lib.images --help`\n")


def main(
    argv: Sequence[str] | None = None,
    environments: Mapping[str, Environment] = ENVIRONMENTS,
) -> int:
    parser = _ArgumentParser(
        prog="lib.images",
        description="Lock every image of an environment to the digest its registry serves.",
    )
    parser.add_argument("--env", default=DEFAULT_ENVIRONMENT, help="environment to lock")
    parser.add_argument("--lock", type=Path, default=LOCK_FILE, help="lock file to update")
    args = parser.parse_args(argv)
    lock_path: Path = args.lock
    with signals_interrupt():
        try:
            environment = environment_named(args.env, environments)
            resolutions = resolve_environment(environment)
            update_lock(lock_path, environment.name, lock_entries(resolutions))
        except SynthError as error:
            settle()
            return print_error(str(error))
        except Interrupted as interrupted:
            settle()
            return print_error(
                f"interrupted by {interrupted.name}: {lock_path} holds the old lock or the "
                "new one, never a part of one; run the command again"
            )
    for resolution in resolutions:
        print(resolution.line())
    locked = len(lock_entries(resolutions))
    print(f"wrote {lock_path}: environment '{environment.name}', {locked} image(s) locked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
