"""Library of the synthesizer: secrets handling, environments, constructs and the CLI."""
