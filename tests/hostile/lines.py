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
