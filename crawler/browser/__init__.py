"""Chromium: finding or installing it, and the pages a browser sweep drives."""
