"""Serving a model as Ollama would: Modelfile, Go templates (the exact prompt bytes), GGUF
headers and the local model store."""
