"""/api/v1/catalogue: the shipped model catalogue over real HTTP, with fit hints."""

from __future__ import annotations

from app.models.catalogue import fit_hint, load_catalogue, memory_needed
from tests.test_app_api_helpers import Api, api  # noqa: F401 - fixture

GIB = 2**30


def test_catalogue_lists_popular_models_with_facts(api: Api) -> None:  # noqa: F811
    body = api.get("/catalogue").json()
    names = {m["name"] for m in body["models"]}
    assert len(names) >= 30
    assert {"llama3.2", "qwen2.5", "gemma3", "phi4", "mistral", "deepseek-r1"} <= names
    assert {"nomic-embed-text", "llava"} <= names
    assert {"vision", "tools", "thinking", "embedding"} <= set(body["capabilities"])
    assert body["memory"]["ram"] > 0 and body["memory"]["memory"] >= body["memory"]["ram"]
    for model in body["models"]:
        assert model["description"] and model["tags"]
        for tag in model["tags"]:
            assert tag["name"] == f"{model['name']}:{tag['tag']}"
            assert tag["size"] > 0 and tag["parameters"] and tag["quantization"]
            assert tag["fit"] in {"fits", "tight", "too_large"}
            assert tag["memory_needed"] > tag["size"]
    big = next(t for m in body["models"] if m["name"] == "llama3.1" for t in m["tags"])
    assert big["tag"] == "8b"
    huge = next(m for m in body["models"] if m["name"] == "llama3.1")["tags"][-1]
    assert huge["tag"] == "405b" and huge["fit"] == "too_large"  # 243 GB: no laptop here


def test_catalogue_search_and_capability_filter(api: Api) -> None:  # noqa: F811
    embed = api.get("/catalogue", params={"capability": "embedding"}).json()["models"]
    assert embed and all("embedding" in m["capabilities"] for m in embed)
    assert "nomic-embed-text" in {m["name"] for m in embed}
    found = api.get("/catalogue", params={"q": "QWEN coder"}).json()["models"]
    assert [m["name"] for m in found] == ["qwen2.5-coder"]
    both = api.get("/catalogue", params={"q": "gemma", "capability": "vision"}).json()["models"]
    assert [m["name"] for m in both] == ["gemma3"]
    assert api.get("/catalogue", params={"q": "no such model zzz"}).json()["models"] == []


def test_fit_hint_thresholds() -> None:
    assert memory_needed(GIB) == GIB + 512 * 2**20  # small models: the 512 MiB floor
    assert memory_needed(10 * GIB) == 12 * GIB  # larger: 20% margin
    assert fit_hint(GIB, 16 * GIB) == "fits"
    assert fit_hint(10 * GIB, 14 * GIB) == "tight"
    assert fit_hint(10 * GIB, 11 * GIB) == "too_large"
    assert fit_hint(GIB, 0) == "unknown"


def test_catalogue_file_tags_are_unique() -> None:
    names = [f"{m['name']}:{t['tag']}" for m in load_catalogue()["models"] for t in m["tags"]]
    assert len(names) == len(set(names))


def test_catalogue_pulls_from_the_configured_registry(api: Api) -> None:  # noqa: F811
    default = api.get("/catalogue", params={"q": "gemma3"}).json()
    assert default["registry"] == "registry.ollama.ai"
    assert default["models"][0]["tags"][0]["pull"] == "gemma3:270m"
    assert api.patch("/settings", json={"catalogue_registry": "127.0.0.1:5000"}).ok
    local = api.get("/catalogue", params={"q": "gemma3"}).json()
    assert local["models"][0]["tags"][0]["pull"] == "127.0.0.1:5000/library/gemma3:270m"
    bad = api.patch("/settings", json={"catalogue_registry": "evil.com/x?y"})
    assert bad.status_code == 400 and "catalogue_registry" in bad.text
    assert api.patch("/settings", json={"catalogue_registry": None}).ok
