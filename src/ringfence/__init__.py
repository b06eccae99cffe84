"""Ringfence."""
