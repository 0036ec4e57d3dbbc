"""The dashboard's helpers: what the page scripts in pages/ share, one module per concern."""
