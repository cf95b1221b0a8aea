"""The model factory: training data → LoRA SFT → merge → GGUF convert → quantize → register.
Each stage is a module runnable on its own (``python -m train.data --help``)."""
