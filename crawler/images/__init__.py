"""Listing photos: perceptual hashes (``hashing``) and matching them by distance
(``matching``)."""
