"""Connects to HOST PORT and relays bytes: stdin to the socket, the socket
to stdout. The e2e tests run it with `ip netns exec <ns>` so that a
connection comes from a test host of their own (e2e/netns_test.go). It
exits when the server closes the connection; end of stdin half-closes it.
"""
import os
import socket
import sys
import threading


def pump_stdin(sock):
    while True:
        data = os.read(0, 65536)
        if not data:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        sock.sendall(data)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    sock = socket.create_connection((host, port), timeout=30)
    sock.settimeout(None)
    threading.Thread(target=pump_stdin, args=(sock,), daemon=True).start()
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            break
        os.write(1, data)
    os._exit(0)


if __name__ == "__main__":
    main()
