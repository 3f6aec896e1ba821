"""Charts: each becomes one file in dist/. ``build_manifests`` composes them for an environment."""
