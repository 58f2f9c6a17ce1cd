"""The OpenAI-compatible API: a translation in front of the handlers the Ollama API uses.

``to_ollama`` converts requests, ``from_ollama`` converts the objects back,
``routes`` is the blueprint. Nothing below the web edge knows OpenAI's client
API (llama-server's own OpenAI-style endpoint is the runner's business).
"""
