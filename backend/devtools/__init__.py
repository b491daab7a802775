"""Test doubles for `make dev` and the tests (DESIGN.md §3): never imported by a product app."""
