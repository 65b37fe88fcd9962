"""The receptionist: business profiles, the reply engine and its actions."""
