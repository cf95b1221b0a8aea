"""Which template a registered model will be rendered with, and making the Modelfile's win.

Since v0.30 Ollama renders with the GGUF's chat template when it has capabilities the Modelfile
TEMPLATE lacks (:func:`harness.serving.prompt.choose_template`, server/images.go
``shouldPreferChatTemplate``). For a GGUF this project converted (train/convert.py marks it with
:data:`~harness.serving.gguf_info.CONVERTER_KEY`) ``harness register`` writes the TEMPLATE as the
GGUF's chat template (:func:`~harness.serving.jinja_from_go.jinja_from_go`), so the TEMPLATE wins
and other engines build the same prompt. For any other GGUF it says plainly which one Ollama uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.serving.emulation import emulated_version, parse_version
from harness.serving.gguf_info import read_gguf_info
from harness.serving.modelfile import Modelfile
from harness.serving.prompt import TemplateChoice, choose_template

__all__ = ["TemplatePlan", "plan_template", "server_version"]


@dataclass(frozen=True)
class TemplatePlan:
    choice: TemplateChoice
    """The template Ollama will render with once the model is registered (after any rewrite)."""
    rewrite: str | None
    """The chat template to write into the GGUF before registering it, or None."""
    note: str
    """One line for the user."""


def server_version(reported: str | None) -> str | None:
    """A server's ``/api/version`` as an emulation version (None: unknown or unparsable, e.g. a
    development build's ``0.0.0-dev``, where the emulated release is assumed)."""
    if not reported:
        return None
    try:
        return None if parse_version(reported) == (0, 0, 0) else reported
    except ValueError:
        return None


def plan_template(mf: Modelfile, gguf: str | Path, *, version: str | None = None) -> TemplatePlan:
    """What registering ``gguf`` with ``mf`` into Ollama ``version`` (default: the emulated one)
    renders with, and the chat template to write first when the GGUF is the project's own."""
    from harness.serving.jinja_from_go import Untranslatable, jinja_from_go

    info = read_gguf_info(gguf)
    choice = choose_template(mf, info.chat_template, version=version)
    who = f"Ollama {emulated_version(version)}"
    if choice.source != "gguf":
        return TemplatePlan(choice, None, f"{who} renders its prompts with {_what(choice)}")
    if mf.template is not None and info.converter:
        try:
            jinja = jinja_from_go(mf.template)
        except Untranslatable as e:
            why = f"the TEMPLATE cannot be written as its chat template ({e})"
        else:
            after = choose_template(mf, jinja, version=version)
            if after.source == "modelfile":
                return TemplatePlan(after, jinja, f"{who} would prefer the GGUF's chat template ({choice.reason}); "
                                    "its chat template is rewritten from the TEMPLATE, so the TEMPLATE renders")  # fmt: skip
            why = "the rewritten chat template would still win"
        return TemplatePlan(choice, None, f"{who} renders with the GGUF's chat template, NOT the Modelfile "
                            f"TEMPLATE: {why}; give the TEMPLATE the GGUF's capabilities or run Ollama with "
                            "OLLAMA_GO_TEMPLATE=1")  # fmt: skip
    fix = (
        "; or give the TEMPLATE the same capabilities (e.g. a .Tools block)"
        if mf.template is not None
        else ""
    )
    return TemplatePlan(choice, None, f"{who} renders with the GGUF's own chat template, NOT the Modelfile "
                        f"TEMPLATE: {choice.reason}{fix}")  # fmt: skip


def _what(choice: TemplateChoice) -> str:
    if choice.source == "modelfile":
        return "the Modelfile TEMPLATE"
    if choice.source.startswith("detected:"):
        return f"Ollama's known template {choice.source.split(':', 1)[1]!r} ({choice.reason})"
    return f"no chat template ({choice.reason})"
