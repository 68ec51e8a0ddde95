"""One module per workbench page; each exports its ``routes``."""
