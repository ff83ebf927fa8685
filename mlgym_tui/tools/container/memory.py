"""MLGym's memory commands, run inside the task container: `memory.py write TEXT`, `memory.py read QUERY`,
`memory.py stats` (one JSON line: records and tags, for the prompt).

The memory file keeps MLGym's shape, {"texts": [...], "embeddings": [...], "tags": [...]}, so MLGym's own memory
files load here. MLGym embeds with a sentence-transformer model fetched from a model hub; this has no network,
so a text is embedded as a hashed bag of words (its own and its neighbours' pairs), L2-normalised: similar
wording scores high, paraphrases less so. A file written by MLGym holds model embeddings of another length; those
records are compared by their words instead.
"""

import json
import math
import os
import re
import sys
import zlib
from pathlib import Path

MEMORY = Path(os.environ.get("MLGYM_MEMORY_FILE", Path.home() / "memory.json"))  # MLGym: /home/agent/memory.json
DIMENSIONS = 512
TOP_K = 2


def words(text):
    return re.findall(r"[a-z0-9%.\-]+[a-z0-9%]|[a-z0-9]", text.lower())


def embed(text):
    tokens = words(text)
    features = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    vector = [0.0] * DIMENSIONS
    for feature in features:
        vector[zlib.crc32(feature.encode()) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


def load():
    if not MEMORY.exists() or MEMORY.stat().st_size == 0:
        return {"texts": [], "embeddings": [], "tags": []}
    try:
        data = json.loads(MEMORY.read_text())
    except (OSError, ValueError) as exc:
        print(f"An error occurred while loading memory: {exc}")
        sys.exit(1)
    for key in ("texts", "embeddings", "tags"):
        data.setdefault(key, [])
    return data


def tag_of(text, vector):
    """MLGym's tag: the three-word phrase of the text closest to the whole text."""
    tokens = text.lower().split()
    phrases = [" ".join(tokens[i:i + 3]) for i in range(len(tokens) - 2)] or [" ".join(tokens)]
    return max(phrases, key=lambda phrase: cosine(embed(phrase), vector)) if phrases[0] else ""


def write(text):
    if not text.strip():
        print("Error: memory_write needs the text to save, e.g. memory_write \"lr 3e-4 gave 0.91 accuracy\"")
        sys.exit(1)
    data = load()
    vector = embed(text)
    data["texts"].append(text)
    data["embeddings"].append(vector)
    tag = tag_of(text, vector)
    if tag:
        data["tags"].append(tag)
    MEMORY.parent.mkdir(parents=True, exist_ok=True)
    MEMORY.write_text(json.dumps(data, indent=4))
    print("Content and tags saved successfully to memory.")


def read(query):
    if not MEMORY.exists():
        print(f"Memory file not found: {MEMORY}")
        return
    data = load()
    if not data["texts"]:
        print("Memory is empty or improperly formatted.")
        return
    wanted = embed(query)
    scored = []
    for index, text in enumerate(data["texts"]):
        vector = data["embeddings"][index] if index < len(data["embeddings"]) else []
        if len(vector) != DIMENSIONS:
            vector = embed(text)  # written by MLGym with model embeddings: compare by words
        scored.append((cosine(wanted, vector), index))
    print(f"Query: {query}")
    print("Top Matches:")
    for rank, (score, index) in enumerate(sorted(scored, key=lambda s: (-s[0], s[1]))[:TOP_K], start=1):
        print(f"  Match {rank}: {data['texts'][index]} | similarity score: {score:.2f}")


def stats():
    data = load() if MEMORY.exists() else {"texts": [], "tags": []}
    print(json.dumps({"records": len(data["texts"]), "tags": sorted(set(data["tags"]))}))


def main():
    command, text = sys.argv[1], " ".join(sys.argv[2:])
    if command == "write":
        write(text)
    elif command == "read":
        read(text)
    elif command == "stats":
        stats()
    else:
        print(f"Error: unknown memory command {command}")
        sys.exit(1)


if __name__ == "__main__":
    main()
