"""Complete models built from the layers: the article's CharLoopModel."""
from .charloop import CharLoopModel

__all__ = ["CharLoopModel"]
