"""Broken plugins for the agent's fault tests."""
