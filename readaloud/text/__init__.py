"""Text in, speakable text out: extraction, normalization, language and segmentation."""
