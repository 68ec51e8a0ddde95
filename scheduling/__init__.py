"""Scheduled sweeps: cron entries, locks and sweep plans."""
