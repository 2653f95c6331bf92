"""Interactions in one schema: adapters, k-core filtering and splits."""
