"""Upstream adapters, one per provider."""
