"""Serving a model as Ollama would: Modelfile, Go templates (the exact prompt bytes), GGUF
headers and the local model store."""

LOCAL_ALIASES = ("local", "llamacpp", "embedded")
"""``--backend`` names of the local store, whose models the embedded llama.cpp serves."""
STORE_BACKENDS = ("auto", "ollama", "local", "llamacpp")
"""Where a model is registered, listed or served from: the ``--backend`` choices of ``harness
register``, ``models`` and ``chat`` (``auto``: Ollama when it answers, else the local store)."""
