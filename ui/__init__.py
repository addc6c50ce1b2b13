"""ui: the interfaces. The command line (``ui.cli``); the HTTP API and the web app follow."""
