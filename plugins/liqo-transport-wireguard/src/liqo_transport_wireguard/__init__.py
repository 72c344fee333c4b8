"""WireGuard transport for the Liqo network module."""
