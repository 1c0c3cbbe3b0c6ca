"""Every statement, defined once for both engines (see ``store/sql.py``), one module per resource."""
