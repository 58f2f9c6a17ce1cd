"""The HTTP edge: Flask app factory and blueprints. Parse, validate, stream."""

from app.web.factory import create_app

__all__ = ["create_app"]
