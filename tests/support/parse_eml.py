#!/usr/bin/env python3
"""Parses an email with Python's standard library and prints its structure as JSON, so tests check the message
the way a mail client reads it. usage: parse_eml.py FILE"""
import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    msg = BytesParser(policy=policy.default).parse(f)


def tree(part):
    node = {"type": part.get_content_type()}
    if part.is_multipart():
        node["parts"] = [tree(p) for p in part.iter_parts()]
    else:
        node["cid"] = part.get("Content-ID")
        node["disposition"] = part.get_content_disposition()
        payload = part.get_payload(decode=True) or b""
        node["size"] = len(payload)
        if part.get_content_maintype() == "text":
            node["content"] = part.get_content()
        elif part.get_content_type() == "image/png":
            node["png_magic"] = payload[:8] == b"\x89PNG\r\n\x1a\n"
    return node


print(json.dumps({
    "subject": str(msg["Subject"]),
    "message_id": str(msg["Message-ID"]),
    "from": str(msg["From"]),
    "to": str(msg["To"]),
    "date": str(msg["Date"]),
    "tree": tree(msg),
}))
