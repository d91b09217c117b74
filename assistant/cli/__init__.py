"""The `newsroom` command: its verb table (``main``) and the modules of its larger verbs."""
