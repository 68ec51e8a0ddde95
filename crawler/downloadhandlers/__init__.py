"""Download handlers (Scrapy's kind of component)."""
