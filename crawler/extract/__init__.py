"""Extraction: fields from cards and pages, normalised values, page markers."""
