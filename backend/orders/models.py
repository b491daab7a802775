"""Orders and the allocation of produced robots to waiting orders."""
