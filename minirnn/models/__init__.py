"""Complete models built from the layers: the article's CharLoopModel and the CharRNN language model."""
from .charloop import CharLoopModel
from .charrnn import CharRNN

__all__ = ["CharLoopModel", "CharRNN"]
