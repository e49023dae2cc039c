"""The campaign service: ``create_app(settings, client=None)`` builds the FastAPI app."""

from igent.service.app import create_app

__all__ = ["create_app"]
