"""A TCP proxy in front of a ZooKeeper server that loses the answer to one create.

usage: zk_drop_proxy.py UPSTREAM_PORT PORT_FILE PATH_PREFIX [REFUSE_SECONDS]

Listens on 127.0.0.1 (an ephemeral port, written to PORT_FILE) and relays every connection to
127.0.0.1:UPSTREAM_PORT. The first create request (opcodes create, create2, createContainer,
createTTL) whose path starts with PATH_PREFIX is passed on to the server; the server's answer is
not relayed, and half a second later both sides of that connection are closed. The client sees
a connection loss although the node was made, which is what a create lost to a network fault
looks like. For REFUSE_SECONDS after that (default 0) every new connection is closed at once,
so that what the client asks next fails with a connection loss too. Prints "dropped <path>"
once. Exits after 300 s.
"""
import os
import socket
import struct
import sys
import threading
import time

CREATES = (1, 15, 19, 21)
DEADLINE = time.monotonic() + 300
state = {"done": False, "refuse_until": 0.0, "refuse": 0.0}
lock = threading.Lock()


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def relay(client, upstream, prefix):
    conn = {"drop": False}

    def answers():
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if not conn["drop"]:
                    client.sendall(data)
        except OSError:
            pass
        close(client, upstream)

    threading.Thread(target=answers, daemon=True).start()
    try:
        first = True
        while time.monotonic() < DEADLINE:
            header = recv_exact(client, 4)
            (length,) = struct.unpack(">i", header)
            payload = recv_exact(client, length)
            if not first and length >= 12:
                _xid, op = struct.unpack(">ii", payload[:8])
                if op in CREATES:
                    (plen,) = struct.unpack(">i", payload[8:12])
                    path = payload[12:12 + max(plen, 0)].decode(errors="replace")
                    with lock:
                        hit = not state["done"] and path.startswith(prefix)
                        if hit:
                            state["done"] = True
                    if hit:
                        conn["drop"] = True
                        upstream.sendall(header + payload)
                        time.sleep(0.5)
                        with lock:
                            state["refuse_until"] = time.monotonic() + state["refuse"]
                        print("dropped " + path, flush=True)
                        break
            first = False
            upstream.sendall(header + payload)
    except (OSError, ConnectionError):
        pass
    close(client, upstream)


def main():
    upstream_port, port_file, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    state["refuse"] = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.5)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]) + "\n")
    os.rename(port_file + ".tmp", port_file)
    while time.monotonic() < DEADLINE:
        try:
            client, _ = server.accept()
        except socket.timeout:
            continue
        with lock:
            refusing = time.monotonic() < state["refuse_until"]
        if refusing:
            close(client)
            continue
        try:
            upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        client.settimeout(None)
        threading.Thread(target=relay, args=(client, upstream, prefix), daemon=True).start()


if __name__ == "__main__":
    main()
