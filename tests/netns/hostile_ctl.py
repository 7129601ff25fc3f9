# SPDX-License-Identifier: MIT
# Hostile control-channel clients for the netns tests (45-control-limits.sh).
# Speaks just enough of the framing (docs/PROTOCOLS.md, src/control/frame.h)
# and the message encoding (src/control/messages.cc: tag u8, length u16 BE,
# value) to misbehave after a real TLS 1.3 handshake.
#
#   silent SERVER PORT COUNT SECONDS READYFILE [SOURCE...]
#       COUNT TCP connections that never say anything, held SECONDS, from
#       the SOURCE addresses in turn (any address when none is given).
#   flood SERVER PORT PKI NAME SECONDS
#       an admitted client that sends pings as fast as it can and never
#       reads; reconnects whenever the server cuts it.  Prints its sessions.
#   badframe SERVER PORT PKI NAME KIND
#       completes the handshake, sends one bad thing of KIND, and prints
#       "bye: REASON" if the server said bye before closing, else "no bye".
#   badserver ADDRESS PORT PKI KIND
#       a server (certificate "server") that takes one client, reads its
#       hello, answers with one bad thing of KIND and prints what badframe
#       prints about the client's answer.
import os, resource, socket, ssl, sys, threading, time

def frame(t, payload, version=1):
    return bytes([version, t]) + len(payload).to_bytes(2, "big") + payload

def tlv(tag, value):
    return bytes([tag]) + len(value).to_bytes(2, "big") + value

HELLO = frame(1, tlv(1, b"\x00\x01") + tlv(2, b"\x01") + tlv(3, (0x1000).to_bytes(4, "big")) +
              tlv(5, (4500).to_bytes(2, "big")))
PING = frame(5, tlv(1, b"\x00" * 8))

def tls(server, port, pki, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{pki}/ca.crt")
    ctx.load_cert_chain(f"{pki}/{name}.crt", f"{pki}/{name}.key")
    raw = socket.create_connection((server, int(port)), timeout=5)
    return ctx.wrap_socket(raw)

def silent(server, port, count, seconds, ready, *sources):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for i in range(int(count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sources:
            s.bind((sources[i % len(sources)], 0))
        s.setblocking(False)
        try:
            s.connect((server, int(port)))
        except BlockingIOError:
            pass
        socks.append(s)
    open(ready, "w").close()
    time.sleep(float(seconds))

def flood(server, port, pki, name, seconds):
    end = time.monotonic() + float(seconds)
    sessions = []
    def run():
        batch = PING * 2000
        while time.monotonic() < end:
            try:
                s = tls(server, port, pki, name)
                s.settimeout(None)
                s.sendall(HELLO)
                sessions.append(time.monotonic())
                while True:
                    s.sendall(batch)
            except OSError:
                time.sleep(0.2)
    threading.Thread(target=run, daemon=True).start()
    while time.monotonic() < end:
        time.sleep(0.2)
    print(f"sessions {len(sessions)}", flush=True)
    os._exit(0)

BAD = {
    "bad-version": frame(5, tlv(1, b"\x00" * 8), version=9),
    "unknown-type": frame(99, b""),
    "bad-length": bytes([1, 5, 0xff, 0xff]),
    "bad-payload": frame(1, b"\x01\x02\x03"),
    "unexpected-type": frame(2, b""),
}

def badframe(server, port, pki, name, kind):
    s = tls(server, port, pki, name)
    misbehave(s, kind)

def badserver(address, port, pki, kind):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(f"{pki}/ca.crt")
    ctx.load_cert_chain(f"{pki}/server.crt", f"{pki}/server.key")
    ls = socket.create_server((address, int(port)))
    ls.settimeout(20)
    conn, _ = ls.accept()
    s = ctx.wrap_socket(conn, server_side=True)
    s.settimeout(5)
    hello = b""
    while len(hello) < 4 or len(hello) < 4 + int.from_bytes(hello[2:4], "big"):
        d = s.recv(65536)
        if not d:
            break
        hello += d
    misbehave(s, kind)

def misbehave(s, kind):
    if kind == "tls-error":
        os.write(s.fileno(), os.urandom(200))   # bytes outside any TLS record
    else:
        s.sendall(BAD[kind])
    got = b""
    s.settimeout(5)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (OSError, ssl.SSLError):
        pass
    # Find a bye frame (type 7) and its reason (tag 1).
    i = 0
    while i + 4 <= len(got):
        t, n = got[i + 1], int.from_bytes(got[i + 2:i + 4], "big")
        body = got[i + 4:i + 4 + n]
        if t == 7 and len(body) >= 3 and body[0] == 1:
            print("bye: " + body[3:3 + int.from_bytes(body[1:3], "big")].decode(errors="replace"))
            return
        i += 4 + n
    print("no bye")

{"silent": silent, "flood": flood, "badframe": badframe, "badserver": badserver}[sys.argv[1]](*sys.argv[2:])
