"""``python -m crawler`` is the ``brandsweep`` command."""

from crawler.cli import cli

cli(prog_name="brandsweep")
