#!/usr/bin/env python3
"""A non-Go client of Canopy's watch protocol (wsnotify, WS.md).

Usage: pyclient.py ws://127.0.0.1:PORT/v1/watch /watched/path

Connects, sets a persistentRecursive watch on the path, creates a child
below it over the same socket, and prints every frame it receives as one
JSON line, until it has both the create's result and the child's
NodeCreated event. Exits 1 if they do not arrive within 10 s.

Needs only the standard library and the websockets package (Debian:
python3-websockets; the asyncio API of websockets 10 and later).
"""
import asyncio
import json
import sys

import websockets


async def main(url, path):
    child = path.rstrip("/") + "/from-python"
    async with websockets.connect(url, open_timeout=10, close_timeout=2) as ws:
        await ws.send(json.dumps({"id": 1, "op": "addWatch", "path": path, "mode": "persistentRecursive"}))
        await ws.send(json.dumps({"id": 2, "op": "create", "path": child, "data": "hello from python", "parents": True}))
        got_result = got_event = False
        deadline = asyncio.get_running_loop().time() + 10
        while not (got_result and got_event):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                print("timed out", file=sys.stderr)
                return 1
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=left))
            print(json.dumps(frame, sort_keys=True), flush=True)
            if frame.get("id") in (1, 2) and "error" in frame:
                print("error answer: %s" % frame["error"], file=sys.stderr)
                return 1
            if frame.get("id") == 2:
                got_result = True
            event = frame.get("event")
            if event and event.get("type") == "NodeCreated" and event.get("path") == child:
                got_event = True
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
