"""Small shared helpers with no dependencies on the rest of codecbench."""
