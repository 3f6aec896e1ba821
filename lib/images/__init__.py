"""Image digests: resolved from registries by ``make lock-images``, pinned from a lock at synth.

``distribution``: the OCI distribution API client (one manifest GET per image).
``lock``: the committed lock file, ``images.lock.yaml``.
``resolve``: every image of an environment to its digest (network; the command only).
``pinning``: the lock applied to an environment at synth time (no network).
"""
