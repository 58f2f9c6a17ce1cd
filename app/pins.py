"""Versions Hearth pins in exactly one place.

The llama.cpp that Hearth bundles is the copy vendored in this release of
llama-cpp-python's sdist: pinning the sdist pins llama.cpp, its ggml, and the
flags of the ``llama-server`` we drive.
"""

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
"""The llama-cpp-python sdist whose ``vendor/llama.cpp`` we build."""

LLAMA_CPP_PYTHON_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
"""Expected sha256 of that sdist: a download that differs is refused."""
