"""The shared stream runtime: imported by every service, imports no service."""
