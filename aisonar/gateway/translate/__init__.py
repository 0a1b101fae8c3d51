"""Translation between wire formats through one hub, OpenAI chat completions (see `hub`).

Pure functions and small stateful stream converters over parsed JSON; no I/O."""
