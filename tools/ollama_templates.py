"""Regenerate harness/serving/ollama_templates.json from an ollama/ollama git directory.

    python tools/ollama_templates.py /work/.mirror/ollama+ollama/repo [COMMIT]

The file holds template/index.json (the GGUF chat templates Ollama recognises, by name) with each
name's Go template (``<name>.gotmpl``) and stop parameters (``<name>.json``): the data of
template/template.go ``Named``, which server/model.go ``detectChatTemplate`` uses on create.
Ollama is MIT-licensed; the templates are copied as data, with the commit recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def show(git_dir: str, commit: str, path: str) -> str | None:
    r = subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], capture_output=True, text=True
    )
    return r.stdout if r.returncode == 0 else None


def main(git_dir: str, commit: str = "HEAD") -> None:
    full = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", commit], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    index = json.loads(show(git_dir, full, "template/index.json") or "[]")
    names: dict[str, dict] = {}
    for entry in index:
        name = entry["name"]
        if name not in names:
            gotmpl = (show(git_dir, full, f"template/{name}.gotmpl") or "").replace("\r\n", "\n")
            params = json.loads(show(git_dir, full, f"template/{name}.json") or "null")
            names[name] = {"gotmpl": gotmpl, "stop": (params or {}).get("stop")}
    out = {"ollama_commit": full, "index": index, "templates": names}
    dest = Path(__file__).resolve().parents[1] / "harness" / "serving" / "ollama_templates.json"
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{dest}: {len(index)} chat templates, {len(names)} names, ollama {full[:7]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
