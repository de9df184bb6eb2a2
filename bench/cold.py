"""Cold start driver: one fresh process, one import, one invocation.

    python bench/cold.py ours|naive RESULT_FD

The clock starts on the first line, before anything else is imported, and
stops when the first result is in hand; the peak RSS (VmHWM) is read from this
process's own status. Both contenders run this same script, so interpreter
start-up, which it cannot see, is the same for both. The figures go to
RESULT_FD as one JSON line (stdout carries the handler's logs).
"""

import time

T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main() -> None:
    which, result_fd = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src") if which == "ours" else HERE)
    sys.path.insert(0, HERE)
    from _context import Context

    if which == "ours":
        from ws_exchange.handler import lambda_handler
    else:
        from naive_handler import lambda_handler
    imported = time.perf_counter() - T0
    result = lambda_handler({}, Context())
    elapsed = time.perf_counter() - T0
    ok = result.get("ok") is True if which == "ours" else result.get("statusCode") == 200
    line = json.dumps(
        {"seconds": elapsed, "import": imported, "peak_rss_kib": _peak_rss_kib(), "ok": ok}
    )
    os.write(result_fd, line.encode() + b"\n")


main()
