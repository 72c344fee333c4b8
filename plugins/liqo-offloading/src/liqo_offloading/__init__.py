"""Liqo offloading module."""
