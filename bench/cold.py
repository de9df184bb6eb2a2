"""Cold start driver: one fresh process, one import, one invocation.

    python bench/cold.py TASK_DIR MODULE RESULT_FD

``TASK_DIR`` plays ``/var/task``: the deployed code, first on ``sys.path``
(what the Lambda runtime provides, boto3 included, comes from the
interpreter's own site-packages, compiled like ``/var/runtime``). The parent
runs it with ``PYTHONDONTWRITEBYTECODE=1``, as Lambda cannot write
``__pycache__``: only the bytecode the artifact ships is used.

The clock starts on the first line, before anything else is imported, and
stops when the first result is in hand; the peak RSS (VmHWM) is read from this
process's own status. Every contender runs this same script, so interpreter
start-up, which it cannot see, is the same for all. The figures go to
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
    task_dir, module_name, result_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.path.insert(0, task_dir)
    sys.path.insert(1, HERE)
    from _context import Context

    module = __import__(module_name, fromlist=["lambda_handler"])
    imported = time.perf_counter() - T0
    error = None
    try:
        result = module.lambda_handler({}, Context())
    except Exception as exc:  # reported to the parent, which shows it
        result, error = {}, type(exc).__name__
    elapsed = time.perf_counter() - T0
    if "statusCode" in result:  # the naive handler answers like an API
        ok = result["statusCode"] == 200
    else:
        ok = result.get("ok") is True
        if not ok and error is None:
            error = (result.get("error") or {}).get("type", "no result")
    line = json.dumps(
        {
            "seconds": elapsed,
            "import": imported,
            "peak_rss_kib": _peak_rss_kib(),
            "ok": ok,
            "error": error,
            "boto3": "boto3" in sys.modules,
        }
    )
    os.write(result_fd, line.encode() + b"\n")


main()
