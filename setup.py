"""Build hook: copy the top-level data folders into the wheel as package data.

``scenarios/``, ``modelfiles/`` and ``regress/`` stay at the top of the repository (where users
and the README expect them); a built wheel carries them under ``harness/_shipped/`` so that a
plain ``pip install .`` finds them with ``importlib.resources`` (harness/_util/resources.py).
Editable installs read the checkout directly. All metadata lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = {"scenarios": "*.yaml", "modelfiles": "*.Modelfile", "regress": "*.yaml"}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for folder, pattern in SHIPPED.items():
            dest = Path(self.build_lib) / "harness" / "_shipped" / folder
            dest.mkdir(parents=True, exist_ok=True)
            for src in sorted((root / folder).glob(pattern)):
                shutil.copy2(src, dest / src.name)


setup(cmdclass={"build_py": BuildPyWithData})
