"""LiteLLM's proxy config: its typed spec, rendering, and the checks against the secrets."""
