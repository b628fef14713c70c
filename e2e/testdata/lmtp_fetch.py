"""Fetch every message of a maildrop with Python's poplib and print them.

Usage: lmtp_fetch.py HOST PORT USER PASSWORD

Prints a JSON list with one string per message: the message as RETR sent
it, dot-unstuffed, with CRLF line endings, base64-encoded. Deletes nothing.
"""

import base64
import json
import poplib
import sys

TIMEOUT = 20  # seconds, for every socket operation


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pop = poplib.POP3(host, port, timeout=TIMEOUT)
    pop.user(user)
    pop.pass_(password)
    count, _ = pop.stat()
    out = []
    for i in range(1, count + 1):
        _, lines, _ = pop.retr(i)
        raw = b"".join(line + b"\r\n" for line in lines)
        out.append(base64.b64encode(raw).decode("ascii"))
    pop.quit()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
