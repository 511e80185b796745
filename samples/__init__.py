"""Deterministic sample data: approval cases as the platforms would send them, with real-looking
identifiers, PDFs and scanned pages. Used by tests, benchmarks and `archivectl` demos."""
