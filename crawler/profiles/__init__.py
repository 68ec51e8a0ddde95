"""Marketplace profiles: the model and loading, and ``marketplaces check``."""
