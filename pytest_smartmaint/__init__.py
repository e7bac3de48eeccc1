"""pytest-smartmaint: infrastructure checks for ML platforms on docker compose."""

__version__ = "0.1.0"
