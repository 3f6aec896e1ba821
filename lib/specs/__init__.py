"""Small frozen specs, one concern each, that the environments table is built from."""
