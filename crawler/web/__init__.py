"""The review workbench: a local web app over the same library the CLI uses (cases,
notices, the store), and ``brandsweep browse``, the store in Datasette."""
