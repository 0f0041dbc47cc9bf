"""solutions."""
