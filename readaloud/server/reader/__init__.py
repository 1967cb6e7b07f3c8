"""The reader page: the daemon serves the text being read, large, with the sentence and the word
highlighted as they are heard (``readaloud reader`` opens it). One-time links and the page's
cookie in ``access.py``, the routes in ``routes.py``, the page itself in ``page/``."""
