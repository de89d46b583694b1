"""Reusable widgets of the provider list and form."""
