"""Package placeholder; filled by its family owner."""
