"""Operational checks that run on a schedule, over the store ports only."""
