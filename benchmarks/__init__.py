"""Benchmarks for the course's speed and memory claims (``make bench``)."""
