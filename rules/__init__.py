"""Pure domain rules: no I/O, no Flask, no SQL. Nothing here imports the rest of the project."""
