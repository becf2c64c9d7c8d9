"""artrec: visual (content-based) image recommendation with ImageNet transfer and fine-tuning."""

__version__ = "0.1.0"
