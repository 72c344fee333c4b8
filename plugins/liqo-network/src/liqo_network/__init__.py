"""Liqo network module."""
