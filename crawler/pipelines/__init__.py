"""Item pipelines (Scrapy's kind of component): what happens to each extracted listing."""
