"""Liqo in Python: the core runtime that hosts the networking, authentication and offloading modules."""
