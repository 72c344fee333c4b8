"""Liqo auth module."""
