import os

# Clients that would otherwise reach the internet on import or after each run.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
