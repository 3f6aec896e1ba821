"""The environment variable each LiteLLM provider reads its key from.

Names follow LiteLLM's own (``litellm.validate_environment``); a test checks this table against
the installed LiteLLM. Providers missing here (ollama, vertex_ai, bedrock, ...) authenticate in
other ways and are not checked.
"""

from __future__ import annotations

# Provider -> the variables LiteLLM accepts for its key; any one of them is enough.
PROVIDER_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "perplexity": ("PERPLEXITYAI_API_KEY",),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY",),
    "deepinfra": ("DEEPINFRA_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "huggingface": ("HUGGINGFACE_API_KEY",),
    "replicate": ("REPLICATE_API_KEY",),
    "voyage": ("VOYAGE_API_KEY",),
}


def provider_of(model: str) -> str | None:
    """``openai/gpt-4o`` -> ``openai``; a bare model name has no explicit provider."""
    provider, slash, _ = model.partition("/")
    return provider if slash else None
