"""plateocr: a from-scratch reader for Spanish licence plates (Chars74K-trained CNN)."""

__version__ = "0.1.0"
