"""The public event contracts of approval-archive: a CloudEvents envelope and versioned data models."""
