"""Inbound dialects: one per wire format clients speak."""
