"""``make bench`` / ``python -m bench``: the figures of issue #6 in one run.

Starts the local stack (moto's Secrets Manager in this process, the WebSocket
server in a process of its own), then measures each contender against its
peer, alternating them (A, B, A, B, ...) so that machine noise falls on both
alike, and writes ``bench/results.md`` and ``bench/ratios.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from local_stack.invoker import (
    ROOT,
    apply_env_vars,
    lambda_environment,
    load_function,
    read_json,
)
from local_stack.secrets_manager import LocalSecretsManager

HERE = Path(__file__).resolve().parent
SECRET_ID = "bench/websocket-token"  # noqa: S105 - a secret's name
MiB = 1024.0


@dataclass
class Row:
    name: str
    unit: str
    ours: float
    peer: float
    peer_name: str
    target: float | None  # the ratio ours / peer must stay at or below
    samples: int = 0
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else float("nan")

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("websockets", "aws-lambda-powertools", "boto3")
    )
    return (
        f"{model}, {os.cpu_count()} cores ({usable} usable), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; {versions}"
    )


def start_server(token: str) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.server", token],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def cold_once(which: str, env: dict[str, str]) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    child = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(HERE / "cold.py"), which, str(write_end)],
        env=env,
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - started
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        figures: dict[str, Any] = json.loads(pipe.read())
    if child.returncode or not figures["ok"]:
        raise SystemExit(f"cold start of {which} failed")
    figures["wall"] = wall
    return figures


def measure_cold(env: dict[str, str], pairs: int) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "naive": []}
    # One discarded run each: bytecode caches written, page cache warm.
    cold_once("ours", env)
    cold_once("naive", env)
    for n in range(pairs):
        order = ("ours", "naive") if n % 2 == 0 else ("naive", "ours")
        for which in order:
            runs[which].append(cold_once(which, env))
    return runs


class Worker:
    """The warm worker process (bench/warm.py), driven one command at a time."""

    def __init__(self, env: dict[str, str], uri: str, token: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "bench.warm", uri, token],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> dict[str, list[float]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the warm worker died during {command!r}")
        answer: dict[str, list[float]] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def artifact_size() -> tuple[float | None, str]:
    """The built function's size (MiB, unzipped), from ``sam build`` when it is
    installed: on PATH, or in the .venv-sam that ``make build`` creates."""
    sam = shutil.which("sam") or str(ROOT / ".venv-sam" / "bin" / "sam")
    if not Path(sam).exists():
        return None, "sam is not on PATH (nor in .venv-sam): skipped"
    # sam build without a container needs the runtime's python3.13 on PATH.
    interpreter = os.path.dirname(os.path.realpath(sys.executable))
    env = {**os.environ, "PATH": f"{interpreter}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    with tempfile.TemporaryDirectory() as build_dir:
        built = subprocess.run(  # noqa: S603 - fixed arguments
            [sam, "build", "--build-dir", build_dir, "--cache-dir", build_dir + "-cache"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(build_dir + "-cache", ignore_errors=True)
        if built.returncode:
            return None, "sam build failed: skipped"
        files = [f for f in Path(build_dir).rglob("*") if f.is_file() and f.name != "template.yaml"]
        size = sum(f.stat().st_size for f in files)
    return size / MiB / MiB, "sam build, unzipped"


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000.0


def render(rows: list[Row], extra: list[str], description: str, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {description}.",
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M %Z')}, {seconds:.0f} s. Medians; "
        "ratio = ours / peer (lower is better).",
        "",
        "| measure | ours | peer | peer | ratio | target | met | n |",
        "|---|---:|---:|---|---:|---:|:-:|---:|",
    ]
    for row in rows:
        target = "" if row.target is None else f"≤ {row.target:.2f}"
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.name} ({row.unit}) | {row.ours:.2f} | {row.peer:.2f} | {row.peer_name} "
            f"| {row.ratio:.3f} | {target} | {met} | {row.samples or ''} |"
        )
    lines += ["", *extra, ""]
    return "\n".join(lines)


def chart(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in rows if row.target is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * len(shown) + 1.2))
    names = [row.name for row in shown]
    ratios = [row.ratio for row in shown]
    colours = ["tab:green" if row.met else "tab:red" for row in shown]
    ax.barh(names, ratios, color=colours)
    for y, row in enumerate(shown):
        ax.plot([row.target, row.target], [y - 0.4, y + 0.4], color="black", lw=2)
        ax.text(row.ratio + 0.01, y, f"{row.ratio:.2f}", va="center")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.invert_yaxis()
    ax.set_xlim(0, max([*ratios, *(row.target or 0 for row in shown)]) * 1.15)
    ax.set_xlabel("ours / peer (median); black bar = target")
    ax.set_title("ws_exchange against the raw library and the naive handler")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cold", type=int, default=30, help="cold start pairs")
    parser.add_argument("--warm", type=int, default=1000, help="warm invocation pairs")
    parser.add_argument("--batch", type=int, default=41, help="1000-message batch pairs")
    parser.add_argument("--naive", type=int, default=1000, help="naive warm invocations")
    options = parser.parse_args()
    began = time.perf_counter()
    # moto's HTTP server logs each request; the run's output is the table.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    description = machine()
    print(description, flush=True)

    token = secrets.token_urlsafe(32)
    with LocalSecretsManager() as secrets_manager:
        secrets_manager.put_secret(SECRET_ID, json.dumps({"token": token}))
        server, uri = start_server(token)
        try:
            spec = load_function()
            function_env = apply_env_vars(spec, read_json(ROOT / "events" / "env.json"))
            function_env.update(
                WEBSOCKET_URI=uri + "/v1",
                TOKEN_SECRET_ID=SECRET_ID,
                ALLOW_INSECURE_WEBSOCKET="true",
            )
            env = {
                **os.environ,
                **lambda_environment(spec),
                **secrets_manager.environment,
                **function_env,
            }
            env.pop("PYTHONDONTWRITEBYTECODE", None)

            print(f"cold start: {options.cold} pairs ...", flush=True)
            cold = measure_cold(env, options.cold)

            print("warm, batch and Secrets Manager calls ...", flush=True)
            worker = Worker(env, uri + "/v1", token)
            try:
                worker.ask("warm 50")  # first fetch, imports, caches
                worker.ask("batch 1 1000")
                calls = secrets_manager.get_secret_value_calls
                warm = worker.ask(f"warm {options.warm}")
                our_calls = secrets_manager.get_secret_value_calls - calls
                calls = secrets_manager.get_secret_value_calls
                naive = worker.ask(f"naive {options.naive}")
                naive_calls = secrets_manager.get_secret_value_calls - calls
                batch = worker.ask(f"batch {options.batch} 1000")
            finally:
                worker.close()
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)

    size, size_note = artifact_size()
    rows = [
        Row(
            "cold start",
            "ms",
            median_ms([r["seconds"] for r in cold["ours"]]),
            median_ms([r["seconds"] for r in cold["naive"]]),
            "naive handler",
            1.10,
            options.cold,
        ),
        Row(
            "cold start, whole process",
            "ms",
            median_ms([r["wall"] for r in cold["ours"]]),
            median_ms([r["wall"] for r in cold["naive"]]),
            "naive handler",
            None,
            options.cold,
        ),
        Row(
            "warm invocation",
            "ms",
            median_ms(warm["ours"]),
            median_ms(warm["raw"]),
            "raw websockets",
            1.10,
            options.warm,
        ),
        Row(
            "1000-message batch",
            "ms",
            median_ms(batch["ours"]),
            median_ms(batch["raw"]),
            "raw send/recv loop",
            1.15,
            options.batch,
        ),
        Row(
            "peak RSS, cold process",
            "MiB",
            statistics.median(r["peak_rss_kib"] for r in cold["ours"]) / MiB,
            statistics.median(r["peak_rss_kib"] for r in cold["naive"]) / MiB,
            "naive handler",
            1.15,
            options.cold,
        ),
        Row(
            "warm invocation, for scale",
            "ms",
            median_ms(warm["ours"]),
            median_ms(naive["naive"]),
            "naive handler",
            None,
            options.naive,
        ),
    ]
    scaled_ours = our_calls * 1000 / options.warm
    scaled_naive = naive_calls * 1000 / options.naive
    extra = [
        f"- GetSecretValue calls per 1000 warm invocations: ours {scaled_ours:g} "
        f"(target: one per {function_env.get('SECRET_MAX_AGE_SECONDS', '300')} s cache window, "
        f"the run's first fetch came before), naive handler {scaled_naive:g}.",
        f"- Peak RSS inside 128 MB: ours {rows[4].ours:.1f} MiB "
        f"({'yes' if rows[4].ours * MiB * 1024 < 128e6 * 0.75 else 'no'}, "
        "with at least 25 % to spare).",
        "- Deploy artifact: "
        + (size_note if size is None else f"{size:.1f} MiB ({size_note})")
        + ".",
        "- cold start: from the first line of bench/cold.py to the first result, in a fresh "
        "process; whole process adds the interpreter's start-up, the same for both.",
        "- warm: our handler with a cached token against `asyncio.run` of a bare websockets "
        "connect + send + recv (compression=None, proxy=None); the naive row is for scale.",
    ]
    seconds = time.perf_counter() - began
    text = render(rows, extra, description, seconds)
    (HERE / "results.md").write_text(text)
    chart(rows, HERE / "ratios.png")
    print(text)
    print(f"wrote {HERE / 'results.md'} and {HERE / 'ratios.png'}")


if __name__ == "__main__":
    main()
