#!/usr/bin/env python3
"""A twelve-line client for `shortlist serve` (docs/protocol.md); the full one is clients/python.
Usage: client.py [--host H] [--port P] '{"op":"ping"}' …"""
import argparse, json, socket

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=7700)
parser.add_argument("requests", nargs="*", default=['{"op":"ping"}'])
options = parser.parse_args()
stream = socket.create_connection((options.host, options.port)).makefile("rwb")
for i, text in enumerate(options.requests):
    stream.write(json.dumps({**json.loads(text), "id": i}).encode() + b"\n")
stream.flush()
for _ in options.requests:
    print(json.dumps(json.loads(stream.readline()), indent=1))
