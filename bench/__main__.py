"""``make bench`` / ``python -m bench``: our handler against the naive handler and the raw library.

Builds the deployment artifact (``sam build``, bytecode included), starts the
local stack (moto's Secrets Manager and the extension emulator in this
process, the WebSocket server in a process of its own), then measures both
secret sources, ``sdk`` and ``extension``, against their peers, alternating
the contenders (each round of cold starts in a new order; warm pairs A, B, A,
B, ...) so that machine noise falls on all alike. Writes ``.bench/results.md``,
``.bench/results.json`` and ``.bench/ratios.png`` (an ignored directory) and
prints the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from local_stack.aws.secrets_extension import LocalSecretsExtension
from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import (
    ROOT,
    apply_env_vars,
    lambda_environment,
    load_function,
    read_json,
)

HERE = Path(__file__).resolve().parent
OUT = ROOT / ".bench"
SECRET_ID = "bench/websocket-token"  # noqa: S105 - a secret's name
SOURCES = ("sdk", "extension")
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


# --------------------------------------------------------------------------- deployed code


def build_artifact() -> tuple[Path | None, str]:
    """``sam build`` into .bench/build: the function exactly as deployed (bytecode
    included). None when ``sam`` is neither on PATH nor in .venv-sam."""
    sam = shutil.which("sam") or str(ROOT / ".venv-sam" / "bin" / "sam")
    if not Path(sam).exists():
        return None, "sam is not on PATH (nor in .venv-sam; `make build` installs it)"
    # sam build without a container needs the runtime's python3.13 on PATH.
    interpreter = os.path.dirname(os.path.realpath(sys.executable))
    env = {**os.environ, "PATH": f"{interpreter}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    build_dir = OUT / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    built = subprocess.run(  # noqa: S603 - fixed arguments
        [sam, "build", "--no-cached", "--build-dir", str(build_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode:
        (OUT / "sam-build.log").write_text(built.stdout + built.stderr)
        return None, "sam build failed (see .bench/sam-build.log)"
    return build_dir / load_function().logical_id, "sam build"


def naive_task(artifact: Path | None) -> Path:
    """The naive handler as SAM's default pip builder would deploy it: the script
    and websockets, without bytecode (boto3 comes with the runtime)."""
    task = OUT / "naive-task"
    shutil.rmtree(task, ignore_errors=True)
    task.mkdir(parents=True)
    shutil.copy(HERE / "naive_handler.py", task)
    # The same websockets files our artifact has (arm64 speedups included, which
    # neither contender can load on another architecture).
    source = (artifact / "websockets") if artifact else Path(_site_packages()) / "websockets"
    shutil.copytree(source, task / "websockets", ignore=shutil.ignore_patterns("__pycache__"))
    return task


def _site_packages() -> str:
    import websockets

    return str(Path(websockets.__file__).parent.parent)


def artifact_mib(artifact: Path | None) -> float | None:
    if artifact is None:
        return None
    size = sum(f.stat().st_size for f in artifact.rglob("*") if f.is_file())
    return size / MiB / MiB


# --------------------------------------------------------------------------- processes


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


def function_environment(uri: str, secrets_manager: LocalSecretsManager) -> dict[str, str]:
    """The function's environment (the template's, with events/env.json) for the
    server at ``uri``, the secret read from ``secrets_manager`` with the SDK."""
    spec = load_function()
    function_env = apply_env_vars(spec, read_json(ROOT / "events" / "env.json"))
    function_env.update(
        WEBSOCKET_URI=uri + "/v1",
        TOKEN_SECRET_ID=SECRET_ID,
        ALLOW_INSECURE_WEBSOCKET="true",
        SECRETS_SOURCE="sdk",
    )
    return {
        **os.environ,
        **lambda_environment(spec),
        **secrets_manager.environment,
        **function_env,
    }


def cold_once(task: Path, module: str, env: dict[str, str]) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(HERE / "cold.py"), str(task), module, str(write_end)],
        env=env,
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        check=False,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    if not text:
        return {"ok": False, "error": "the process died"}
    figures: dict[str, Any] = json.loads(text)
    return figures


class Worker:
    """The warm worker process (bench/warm.py), driven one command at a time."""

    def __init__(self, env: dict[str, str], uri: str, token: str, root: Path = ROOT) -> None:
        """``root``: the checkout whose function (``src/``) and worker it runs."""
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "bench.warm", uri, token],
            cwd=root,
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
            raise RuntimeError(f"the warm worker died during {command!r}")
        answer: dict[str, list[float]] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


# --------------------------------------------------------------------------- measures


def measure_cold(
    contenders: dict[str, tuple[Path, str, dict[str, str]]], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """``rounds`` fresh processes per contender, in a new order each round.

    Shuffled rather than rotated: with a rotation each contender mostly follows
    the same one, and whatever a process leaves behind (page cache, CPU state)
    falls on its successor. Seeded, so two runs use the same orders."""
    names = list(contenders)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    order = random.Random(20)  # noqa: S311 - an order, not a secret
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            runs[name].append(cold_once(*contenders[name]))
    return runs


def measure_warm(
    workers: dict[str, Worker],
    warm: int,
    batch: int,
    chunks: int,
    calls: Any,
    scenario: int = 0,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, int], dict[str, str]]:
    """Warm pairs, batch pairs and scenario pairs, the workers taking turns chunk by chunk.

    Returns the figures, the Secrets Manager calls each worker caused (every ask
    is sequential, so the counter's movement during one belongs to it), and the
    failures."""
    figures: dict[str, dict[str, list[float]]] = {
        name: {"warm": [], "raw": [], "batch": [], "loop": [], "scenario": [], "scenario_loop": []}
        for name in workers
    }
    secret_calls = dict.fromkeys(workers, 0)
    failed: dict[str, str] = {}

    def ask(name: str, command: str) -> dict[str, list[float]] | None:
        if name in failed:
            return None
        before = calls()
        try:
            answer = workers[name].ask(command)
        except RuntimeError as exc:
            failed[name] = str(exc)
            return None
        secret_calls[name] += calls() - before
        return answer

    for name in workers:  # first fetch, imports and caches: counted, not timed
        ask(name, "warm 20")
        ask(name, "batch 1 1000")
        ask(name, "scenario 1 1000")
    for _ in range(chunks):
        for name in workers:
            answer = ask(name, f"warm {max(1, warm // chunks)}")
            if answer:
                figures[name]["warm"] += answer["ours"]
                figures[name]["raw"] += answer["raw"]
    for n in range(batch):
        for name in list(workers)[n % 2 :] + list(workers)[: n % 2]:
            answer = ask(name, "batch 1 1000")
            if answer:
                figures[name]["batch"] += answer["ours"]
                figures[name]["loop"] += answer["raw"]
    for n in range(scenario):
        for name in list(workers)[n % 2 :] + list(workers)[: n % 2]:
            answer = ask(name, "scenario 1 1000")
            if answer:
                figures[name]["scenario"] += answer["ours"]
                figures[name]["scenario_loop"] += answer["raw"]
    return figures, secret_calls, failed


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000.0 if values else float("nan")


# --------------------------------------------------------------------------- output


def render(rows: list[Row], notes: list[str], description: str, seconds: float) -> str:
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
    lines += ["", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def chart(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in rows if row.target is not None and row.ratio == row.ratio]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(shown) + 1.2))
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
    ax.set_title("ws_exchange against the naive handler and the raw library")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cold", type=int, default=25, help="cold start rounds")
    parser.add_argument("--warm", type=int, default=1000, help="warm invocation pairs")
    parser.add_argument("--batch", type=int, default=31, help="1000-message batch pairs")
    parser.add_argument("--scenario", type=int, default=31, help="1000-step scenario pairs")
    options = parser.parse_args()
    began = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    # moto's HTTP server logs each request; the run's output is the table.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    description = machine()
    print(description, flush=True)

    print("sam build ...", flush=True)
    artifact, artifact_note = build_artifact()
    if artifact is None:
        print(f"  {artifact_note}: our cold start runs from src/, without bytecode", flush=True)
    ours_task = artifact or ROOT / "src"
    naive = naive_task(artifact)

    token = secrets.token_urlsafe(32)
    session_token = secrets.token_urlsafe(32)
    with (
        LocalSecretsManager() as secrets_manager,
        LocalSecretsExtension(secrets_manager.endpoint_url, session_token) as extension,
    ):
        secrets_manager.put_secret(SECRET_ID, json.dumps({"token": token}))
        server, uri = start_server(token)
        try:
            base = function_environment(uri, secrets_manager)
            envs = {"sdk": base, "extension": {**base, **extension.environment}}
            # As in Lambda, no process may write bytecode: each uses what its code ships.
            cold_envs = {name: {**e, "PYTHONDONTWRITEBYTECODE": "1"} for name, e in envs.items()}

            print(f"cold start: {options.cold} rounds of naive, sdk, extension ...", flush=True)
            extension_calls = extension.calls
            cold = measure_cold(
                {
                    "naive": (naive, "naive_handler", cold_envs["sdk"]),
                    "sdk": (ours_task, "ws_exchange.handler", cold_envs["sdk"]),
                    "extension": (ours_task, "ws_exchange.handler", cold_envs["extension"]),
                },
                options.cold,
            )
            extension_calls = extension.calls - extension_calls

            print("warm, batch and Secrets Manager calls, sdk and extension ...", flush=True)
            workers = {name: Worker(envs[name], uri + "/v1", token) for name in SOURCES}
            try:
                warm, secret_calls, warm_failed = measure_warm(
                    workers,
                    options.warm,
                    options.batch,
                    chunks=10,
                    calls=lambda: secrets_manager.get_secret_value_calls,
                    scenario=options.scenario,
                )
            finally:
                for worker in workers.values():
                    worker.close()
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)

    def good(name: str) -> list[dict[str, Any]]:
        return [r for r in cold[name] if r.get("ok")]

    def cold_ms(name: str, key: str = "seconds") -> float:
        return median_ms([r[key] for r in good(name)])

    def rss_mib(name: str) -> float:
        values = [r["peak_rss_kib"] for r in good(name)]
        return statistics.median(values) / MiB if values else float("nan")

    rows: list[Row] = []
    targets = {"sdk": 1.00, "extension": 0.60}
    for source in SOURCES:
        rows.append(
            Row(
                f"cold start, {source}",
                "ms",
                cold_ms(source),
                cold_ms("naive"),
                "naive handler",
                targets[source],
                len(good(source)),
            )
        )
    for source in SOURCES:
        rows.append(
            Row(
                f"warm invocation, {source}",
                "ms",
                median_ms(warm[source]["warm"]),
                median_ms(warm[source]["raw"]),
                "raw websockets",
                # Decided: the observability every invocation must have (Powertools'
                # formatter and correlation id, the summary line, EMF metrics) stays on
                # the hot path; it alone is ~0.22 of the raw loopback exchange.
                1.50,
                len(warm[source]["warm"]),
            )
        )
    for source in SOURCES:
        rows.append(
            Row(
                f"1000-message batch, {source}",
                "ms",
                median_ms(warm[source]["batch"]),
                median_ms(warm[source]["loop"]),
                "raw send/recv loop",
                1.15,
                len(warm[source]["batch"]),
            )
        )
    for source in SOURCES:
        rows.append(
            Row(
                f"1000-step scenario (send/receive pairs), {source}",
                "ms",
                median_ms(warm[source]["scenario"]),
                median_ms(warm[source]["scenario_loop"]),
                "raw send/recv loop, value filled in",
                1.20,
                len(warm[source]["scenario"]),
            )
        )
    for source in SOURCES:
        rows.append(
            Row(
                f"peak RSS, cold process, {source}",
                "MiB",
                rss_mib(source),
                rss_mib("naive"),
                "naive handler",
                1.10,
                len(good(source)),
            )
        )
    invocations = 22 + options.warm // 10 * 10 + options.batch + options.scenario
    for source in SOURCES:
        rows.append(
            Row(
                f"Secrets Manager calls per cache window, {source}",
                "calls",
                float(secret_calls[source]),
                1.0,
                f"one (over {invocations} warm invocations)",
                1.00,
                invocations,
            )
        )
    for name in ("sdk", "extension", "naive"):
        rows.append(
            Row(
                f"import only, {name}",
                "ms",
                cold_ms(name, "import"),
                cold_ms("naive", "import"),
                "naive handler",
                None,
                len(good(name)),
            )
        )

    size = artifact_mib(artifact)
    notes = [
        "Cold start: import plus first invocation in a fresh process, `PYTHONDONTWRITEBYTECODE=1`; "
        f"ours from the `sam build` artifact ({artifact_note}), the naive handler with "
        "websockets as SAM's default builder bundles it (no bytecode); boto3 from the "
        "interpreter's site-packages, compiled, as the runtime provides it.",
        "Deploy artifact: "
        + ("not built" if size is None else f"{size:.1f} MiB unzipped, bytecode included")
        + ".",
    ]
    ext_boto3 = sum(1 for r in good("extension") if r.get("boto3"))
    if extension_calls == 0 or ext_boto3:
        notes.append(
            f"**The extension contender did not use the extension**: the emulator served "
            f"{extension_calls} requests during the cold starts and {ext_boto3} of "
            f"{len(good('extension'))} processes imported boto3. The handler does not read "
            "`SECRETS_SOURCE=extension` yet; its figures are the sdk path's."
        )
    for name, runs in cold.items():
        failures = [r.get("error") for r in runs if not r.get("ok")]
        if failures:
            notes.append(
                f"**{name}: {len(failures)} of {len(runs)} cold starts failed** "
                f"({', '.join(sorted({str(f) for f in failures}))}); medians over the others."
            )
    for name, reason in warm_failed.items():
        notes.append(f"**{name}: the warm worker failed** ({reason}); its figures are partial.")

    seconds = time.perf_counter() - began
    text = render(rows, notes, description, seconds)
    (OUT / "results.md").write_text(text)
    (OUT / "results.json").write_text(
        json.dumps(
            {
                "machine": description,
                "seconds": seconds,
                "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows],
                "notes": notes,
                "cold_samples": cold,
            },
            indent=1,
        )
    )
    chart(rows, OUT / "ratios.png")
    print(text)
    print(f"wrote {OUT / 'results.md'}, results.json and ratios.png")


if __name__ == "__main__":
    main()
