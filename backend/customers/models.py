"""The customer directory."""
