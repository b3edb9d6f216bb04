"""The product catalogue: SKU -> name and category, replaced whole by an admin's CSV file.

``csv_file`` reads and writes the file (every refusal names its row), ``refusals`` are the
problems an upload can answer, ``service`` replaces and reads the table, ``controllers`` is
the HTTP."""
