"""Sweeps: the local run, its lock, progress and summary."""
