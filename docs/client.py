#!/usr/bin/env python3
"""A ten-line client for `shortlist serve` (docs/protocol.md). Usage: client.py '{"op":"ping"}' …"""
import json, socket, sys

conn = socket.create_connection(("127.0.0.1", 7700))
stream = conn.makefile("rwb")
for i, text in enumerate(sys.argv[1:] or ['{"op":"ping"}']):
    stream.write(json.dumps({**json.loads(text), "id": i}).encode() + b"\n")
stream.flush()
for _ in sys.argv[1:] or [0]:
    print(json.dumps(json.loads(stream.readline()), indent=1))
