"""GLEIF match data: the schema, imports, filters and exports behind the dashboard."""
