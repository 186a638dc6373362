"""The package version, in a module of its own so that modules below the package root can read it without
importing the root (which imports every stage: an import circle)."""

__version__ = "0.1.0"
