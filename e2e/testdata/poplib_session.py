"""Drive the POP3 server with Python's poplib and print what it saw as JSON.

Usage: poplib_session.py MODE HOST PORT USER PASSWORD [CAFILE]

With CAFILE, the connection is implicit TLS (POP3S) and the server's
certificate must verify against CAFILE.

MODE is one of:
  session  log in, STAT, LIST, UIDL, RETR and TOP every message, DELE 1,
           RSET, DELE 1 again, QUIT
  inuse    log in twice to the same maildrop at the same time
  drop     log in, DELE every message, drop the connection without QUIT,
           then log in again and STAT
  badpass  log in with PASSWORD (expected to be wrong)
"""

import json
import poplib
import ssl
import sys
import time

TIMEOUT = 20        # seconds, for every socket operation
RELOGIN_WAIT = 15   # seconds, for the dropped session to let go of the lock


def text(lines):
    """Message lines as poplib returns them, joined with LF."""
    return "".join(line.decode("latin-1") + "\n" for line in lines)


def scan(lines):
    """A LIST or UIDL body as a {number: value} dict."""
    out = {}
    for line in lines:
        n, value = line.decode("latin-1").split(" ", 1)
        out[n] = value
    return out


def error(fn, *args):
    """Call fn and return the server's reply, '+OK...' or '-ERR...'."""
    try:
        return fn(*args).decode("latin-1")
    except poplib.error_proto as e:
        return e.args[0].decode("latin-1")


CAFILE = None  # set from the command line: use POP3S


def connect(host, port):
    if CAFILE:
        context = ssl.create_default_context(cafile=CAFILE)
        return poplib.POP3_SSL(host, port, context=context, timeout=TIMEOUT)
    return poplib.POP3(host, port, timeout=TIMEOUT)


def login(host, port, user, password):
    p = connect(host, port)
    p.user(user)
    p.pass_(password)
    return p


def session(host, port, user, password):
    out = {}
    p = connect(host, port)
    out["welcome"] = p.getwelcome().decode("latin-1")
    p.user(user)
    p.pass_(password)
    out["stat"] = list(p.stat())
    out["list"] = scan(p.list()[1])
    out["uidl"] = scan(p.uidl()[1])
    out["retr"], out["top0"], out["top2"] = {}, {}, {}
    for n in out["list"]:
        out["retr"][n] = text(p.retr(int(n))[1])
        out["top0"][n] = text(p.top(int(n), 0)[1])
        out["top2"][n] = text(p.top(int(n), 2)[1])
    p.dele(1)
    out["stat_after_dele"] = list(p.stat())
    out["retr_deleted"] = error(p.retr, 1)
    p.rset()
    out["stat_after_rset"] = list(p.stat())
    p.dele(1)
    out["quit"] = p.quit().decode("latin-1")
    return out


def inuse(host, port, user, password):
    out = {}
    first = login(host, port, user, password)
    second = connect(host, port)
    second.user(user)
    out["second_pass"] = error(second.pass_, password)
    second.quit()
    out["first_stat"] = list(first.stat())
    out["first_quit"] = first.quit().decode("latin-1")
    return out


def drop(host, port, user, password):
    out = {}
    first = login(host, port, user, password)
    count = first.stat()[0]
    for n in range(1, count + 1):
        first.dele(n)
    out["deleted"] = count
    # Drop the connection: no QUIT, so nothing may be deleted.
    first.sock.close()
    first.file.close()

    deadline = time.monotonic() + RELOGIN_WAIT
    while True:
        again = connect(host, port)
        again.user(user)
        reply = error(again.pass_, password)
        if reply.startswith("+OK"):
            break
        again.quit()
        if "[IN-USE]" not in reply or time.monotonic() > deadline:
            raise SystemExit("login after drop: " + reply)
        time.sleep(0.1)
    out["stat_after_drop"] = list(again.stat())
    out["uidl_after_drop"] = scan(again.uidl()[1])
    again.quit()
    return out


def badpass(host, port, user, password):
    p = connect(host, port)
    p.user(user)
    out = {"pass": error(p.pass_, password)}
    p.quit()
    return out


def main():
    global CAFILE
    mode, host, port, user, password = sys.argv[1:6]
    if len(sys.argv) > 6:
        CAFILE = sys.argv[6]
    modes = {"session": session, "inuse": inuse, "drop": drop, "badpass": badpass}
    print(json.dumps(modes[mode](host, int(port), user, password)))


if __name__ == "__main__":
    main()
