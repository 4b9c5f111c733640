"""Prefect flows over the offexchange engine (run from the repository root)."""
