#!/usr/bin/env python3
"""A console-socket receiver as containerd's shim or conmon would be, for tests.

Usage: console_socket.py SOCKET_PATH OUTPUT_FILE [INPUT]
Listens on SOCKET_PATH, receives one pty master over SCM_RIGHTS, writes INPUT to it,
and copies everything the container writes to OUTPUT_FILE until the pty closes.
Also records the terminal size as "size ROWS COLS" on the first line.
"""
import array, fcntl, os, socket, struct, sys, termios

path, out_path = sys.argv[1], sys.argv[2]
data_in = sys.argv[3].encode() if len(sys.argv) > 3 else b""
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
master = fds[0]
rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, b"\0" * 8))
with open(out_path, "wb") as out:
    out.write(f"name {msg.decode()}\nsize {rows} {cols}\n".encode())
    if data_in:
        os.write(master, data_in)
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out.write(chunk)
        out.flush()
