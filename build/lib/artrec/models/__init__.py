"""Embedding models: timm backbones, the colour-histogram baseline, fine-tuning heads."""
