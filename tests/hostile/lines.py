"""What the hostile test peers share: their one way of reporting to the test
(a line on stdout, whole, whichever thread writes it) and of reading frames."""
import sys
import threading

_OUT = threading.Lock()


def say(line):
    """One line to the test driving this peer, never interleaved."""
    with _OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def recv_exact(sock, n):
    """Exactly n bytes, or None when the peer closed first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def listen(host, port):
    """A listening socket on a loopback address, announced to the test with READY."""
    import socket

    if not host.startswith("127."):
        sys.exit("loopback addresses only")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(8)
    say("READY")
    return listener
