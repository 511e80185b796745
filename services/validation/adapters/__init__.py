"""Adapters only this service uses."""
