"""Sweep reports: what a sweep found and how each marketplace behaved, as text, JSON or a
self-contained HTML page with charts and thumbnails."""
