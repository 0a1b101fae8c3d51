"""Azure OpenAI: OpenAI's wire format on an Azure resource's deployment paths, with its
API version and an API key or Microsoft Entra ID access tokens."""
