"""The local WebSocket server in a process of its own.

In the benchmark's process its threads would share the GIL with the client
being measured; here both contenders meet the same server without that noise.
Prints its URI on one line, then serves until its standard input closes.

    python -m bench.server TOKEN
"""

from __future__ import annotations

import sys
import threading
import time

from local_stack.servers.websocket_server import LocalWebSocketServer


def _forget(server: LocalWebSocketServer) -> None:
    # The server records every handshake and message for the tests; over a
    # benchmark run that would only grow.
    while True:
        time.sleep(1.0)
        server.handshakes.clear()
        server.messages.clear()


def main() -> None:
    with LocalWebSocketServer(sys.argv[1]) as server:
        threading.Thread(target=_forget, args=(server,), daemon=True).start()
        print(server.uri, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
