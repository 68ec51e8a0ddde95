"""Scrapy spiders and marketplace profiles (``spiders/marketplaces/*.yaml``)."""
