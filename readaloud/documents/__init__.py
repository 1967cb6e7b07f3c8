"""Documents people read: PDF (with OCR for scanned pages), EPUB, DOCX, ODT, and the text,
Markdown and HTML files of ``text/extract.py``, all as one ``Document`` read part by part."""
