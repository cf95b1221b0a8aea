"""harness.serving.quant, the one table of quantization levels, agrees with the ``gguf`` package's
enums (llama.cpp's own names and numbers)."""

from __future__ import annotations

import pytest

from harness.serving.quant import FILE_TYPES, FLOAT_LEVELS, LEVEL_ORDER, LEVELS, QUANT_TYPES

gguf = pytest.importorskip("gguf")


def test_file_types_are_llama_cpp_s() -> None:
    for member in gguf.LlamaFileType:
        if member.name == "GUESSED":
            continue
        name = member.name.removeprefix("ALL_").removeprefix("MOSTLY_")
        assert FILE_TYPES.get(member.value) == name, member


def test_levels_name_llama_cpp_types() -> None:
    types = {t.name for t in gguf.GGMLQuantizationType}
    assert all(set(mix) <= types for mix in LEVELS.values())
    assert set(QUANT_TYPES) == set(LEVELS)
    assert all(gguf.LlamaFileType[f"MOSTLY_{lv.upper()}"] == QUANT_TYPES[lv] for lv in LEVELS)
    assert LEVEL_ORDER[: len(FLOAT_LEVELS)] == FLOAT_LEVELS and len(set(LEVEL_ORDER)) == len(LEVEL_ORDER)
