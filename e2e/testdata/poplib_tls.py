"""Drive the POP3 server over TLS with Python's poplib and print what it saw
as JSON.

Usage: poplib_tls.py MODE HOST PORT USER PASSWORD CAFILE

MODE is one of:
  pop3s  POP3_SSL (implicit TLS), log in with USER/PASS, STAT, RETR 1, QUIT
  stls   POP3, CAPA, stls(), CAPA again, log in, STAT, RETR 1, QUIT
  apop   POP3 in the clear, log in with APOP, STAT, QUIT

The TLS context trusts CAFILE only, checks the host name and offers the
ALPN protocol "pop3".
"""

import json
import poplib
import ssl
import sys

TIMEOUT = 20  # seconds, for every socket operation


def text(lines):
    """Message lines as poplib returns them, joined with LF."""
    return "".join(line.decode("latin-1") + "\n" for line in lines)


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["pop3"])
    return ctx


def transaction(p, user, password, out):
    p.user(user)
    p.pass_(password)
    out["stat"] = list(p.stat())
    out["retr1"] = text(p.retr(1)[1])
    out["quit"] = p.quit().decode("latin-1")
    return out


def pop3s(host, port, user, password, cafile):
    p = poplib.POP3_SSL(host, port, context=context(cafile), timeout=TIMEOUT)
    out = {"welcome": p.getwelcome().decode("latin-1"),
           "capa": p.capa(),
           "tls_version": p.sock.version(),
           "alpn": p.sock.selected_alpn_protocol()}
    return transaction(p, user, password, out)


def stls(host, port, user, password, cafile):
    p = poplib.POP3(host, port, timeout=TIMEOUT)
    out = {"welcome": p.getwelcome().decode("latin-1"),
           "capa_before": p.capa()}
    out["stls"] = p.stls(context=context(cafile)).decode("latin-1")
    out["tls_version"] = p.sock.version()
    out["alpn"] = p.sock.selected_alpn_protocol()
    out["capa"] = p.capa()
    return transaction(p, user, password, out)


def apop(host, port, user, password, _cafile):
    p = poplib.POP3(host, port, timeout=TIMEOUT)
    out = {"welcome": p.getwelcome().decode("latin-1")}
    out["apop"] = p.apop(user, password).decode("latin-1")
    out["stat"] = list(p.stat())
    out["quit"] = p.quit().decode("latin-1")
    return out


def main():
    mode, host, port, user, password, cafile = sys.argv[1:7]
    modes = {"pop3s": pop3s, "stls": stls, "apop": apop}
    out = modes[mode](host, int(port), user, password, cafile)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
