"""The fault-injection harness (`make chaos`, issue 17): docs/reliability.md, "Fault-injection results"."""
