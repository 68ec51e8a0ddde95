"""brandsweep's Scrapy extensions."""
