"""brandsweep: an open-source monitoring crawler for brand-protection teams.

The library lives here (items, settings, pipelines, middlewares, store, rule engine,
notices); ``crawler.cli`` is the thin Click layer over it.
"""

__version__ = "0.1.0"
