"""A/B in one run: this checkout's function against another checkout's.

    python -m bench.ab OTHER [--kinds batch,scenario] [--pairs 31]

OTHER is a checkout with the same worker (bench/warm.py), such as a git worktree
of an earlier commit (``git worktree add ../before HEAD~3``). Each checkout gets
a warm worker of its own; both meet one server, secret and environment, as in
``make bench``, and take turns pair by pair, the order flipped every pair. For
each kind the table gives each checkout's median and its ratio to the raw loop
its own worker ran in the same pairs: compare the ratios, which a shared
machine's drift moves less than the times.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
from pathlib import Path

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import ROOT

from .__main__ import SECRET_ID, Worker, function_environment, start_server

# What each kind asks a worker for one pair (bench/warm.py's commands).
COMMANDS = {"warm": "warm 1", "batch": "batch 1 1000", "scenario": "scenario 1 1000"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("other", type=Path, help="the other checkout")
    parser.add_argument("--kinds", default="batch,scenario", help=", ".join(COMMANDS))
    parser.add_argument("--pairs", type=int, default=31, help="pairs per kind and checkout")
    options = parser.parse_args()
    kinds = options.kinds.split(",")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    roots = {"this": ROOT, "other": options.other.resolve()}
    token = secrets.token_urlsafe(32)
    with LocalSecretsManager() as secrets_manager:
        secrets_manager.put_secret(SECRET_ID, json.dumps({"token": token}))
        server, uri = start_server(token)
        env = function_environment(uri, secrets_manager)
        workers = {name: Worker(env, uri + "/v1", token, root) for name, root in roots.items()}
        figures: dict[tuple[str, str], tuple[list[float], list[float]]] = {
            (name, kind): ([], []) for name in roots for kind in kinds
        }
        try:
            for worker in workers.values():  # imports, caches, first secret read
                for kind in kinds:
                    worker.ask(COMMANDS[kind])
            for n in range(options.pairs):
                for kind in kinds:
                    for name in list(roots)[:: 1 if n % 2 else -1]:
                        answer = workers[name].ask(COMMANDS[kind])
                        ours, raw = figures[(name, kind)]
                        ours += answer["ours"]
                        raw += answer["raw"]
        finally:
            for worker in workers.values():
                worker.close()
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)
    print(f"| kind | checkout | ours (ms) | raw (ms) | ratio | n |  ({roots['other']})")
    print("|---|---|---:|---:|---:|---:|")
    for (name, kind), (ours, raw) in figures.items():
        mine, floor = statistics.median(ours) * 1000, statistics.median(raw) * 1000
        print(f"| {kind} | {name} | {mine:.2f} | {floor:.2f} | {mine / floor:.3f} | {len(ours)} |")


if __name__ == "__main__":
    main()
