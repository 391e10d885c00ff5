"""The pure core: claims, policies, facts and decisions. Imports no framework."""
