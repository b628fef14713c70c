"""Deliver over LMTP with Python's smtplib.LMTP and print the replies.

Usage: lmtp_smtplib.py HOST PORT SENDER MESSAGE_FILE RCPT...

Sends one transaction: LHLO, MAIL FROM, one RCPT TO per recipient, DATA.
smtplib.LMTP reads one reply after the message; LMTP sends one per
accepted recipient (RFC 2033), so the others are read with getreply().
Prints JSON: {"lhlo": [code, extensions], "rcpt": {rcpt: [code, text]},
"data": {rcpt: [code, text]}} for the accepted recipients in order.
"""

import json
import smtplib
import sys

TIMEOUT = 20  # seconds, for every socket operation


def main():
    host, port, sender, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rcpts = sys.argv[5:]
    with open(path, "rb") as f:
        msg = f.read()
    lmtp = smtplib.LMTP(host, port, timeout=TIMEOUT)
    code, _ = lmtp.ehlo("client.test")  # smtplib.LMTP sends LHLO
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
