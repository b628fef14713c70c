"""Deliver over LMTP with Python's smtplib.LMTP and print the replies.

Usage: lmtp_smtplib.py HOST PORT SENDER MESSAGE_FILE RCPT...

With LMTP_TLS=starttls or LMTP_TLS=implicit in the environment, the
session is upgraded with STARTTLS, or begins with a TLS handshake; the
server's certificate must verify against the file LMTP_CAFILE.

Sends one transaction: LHLO, MAIL FROM, one RCPT TO per recipient, DATA.
smtplib.LMTP reads one reply after the message; LMTP sends one per
accepted recipient (RFC 2033), so the others are read with getreply().
Prints JSON: {"lhlo": [code, extensions], "rcpt": {rcpt: [code, text]},
"data": {rcpt: [code, text]}} for the accepted recipients in order.
"""

import json
import os
import smtplib
import ssl
import sys

TIMEOUT = 20  # seconds, for every socket operation


class LMTPS(smtplib.LMTP):
    """LMTP over implicit TLS."""

    def __init__(self, host, port, context, timeout):
        self.context = context
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        return self.context.wrap_socket(sock, server_hostname=host)


def main():
    host, port, sender, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rcpts = sys.argv[5:]
    with open(path, "rb") as f:
        msg = f.read()
    mode = os.environ.get("LMTP_TLS", "")
    ctx = None
    if mode:
        ctx = ssl.create_default_context(cafile=os.environ["LMTP_CAFILE"])
    if mode == "implicit":
        lmtp = LMTPS(host, port, ctx, TIMEOUT)
    else:
        lmtp = smtplib.LMTP(host, port, timeout=TIMEOUT)
    code, _ = lmtp.ehlo("client.test")  # smtplib.LMTP sends LHLO
    if mode == "starttls":
        if not lmtp.has_extn("starttls"):
            raise SystemExit("STARTTLS not offered")
        lmtp.starttls(context=ctx)
        code, _ = lmtp.ehlo("client.test")
    exts = sorted(lmtp.esmtp_features.keys())
    out = {"lhlo": [code, exts], "rcpt": {}, "data": {}}
    code, text = lmtp.mail(sender, ["BODY=8BITMIME"])
    if code != 250:
        raise SystemExit("MAIL FROM: %d %s" % (code, text))
    accepted = []
    for r in rcpts:
        code, text = lmtp.rcpt(r)
        out["rcpt"][r] = [code, text.decode()]
        if code == 250:
            accepted.append(r)
    if accepted:
        try:
            code, text = lmtp.data(msg)
        except smtplib.SMTPDataError as e:  # the first recipient failed
            code, text = e.smtp_code, e.smtp_error
        out["data"][accepted[0]] = [code, text.decode()]
        for r in accepted[1:]:
            code, text = lmtp.getreply()
            out["data"][r] = [code, text.decode()]
    lmtp.quit()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
