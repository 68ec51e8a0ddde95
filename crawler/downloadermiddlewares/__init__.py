"""Downloader middlewares (Scrapy's kind of component)."""
