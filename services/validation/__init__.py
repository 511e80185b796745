"""validation: the four-property check (DA/T 70) on every captured case."""
