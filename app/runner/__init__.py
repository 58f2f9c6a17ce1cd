"""Running llama.cpp: locating the binary, its processes, and scheduling models."""
