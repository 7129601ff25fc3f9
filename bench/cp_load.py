#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Control-plane load generator for `make bench`.

Two subcommands:

  mint   N client certificates signed by the test CA, all sharing one EC key
         (the server keys sessions by the certificate's common name, so every
         simulated client needs a name of its own; the key may be shared).

  load   Opens N TLS 1.3 sessions to a lanmesh server's control port, sends a
         HELLO on each and waits for the CONFIG frame that proves admission.
         Admitted sessions are held open (pings are answered) until the file
         given with --release appears or --hold seconds pass, so that the
         caller can read the server's memory with every client connected.
         bench/run.sh runs bench/cp_load.cc instead (same options, protocol
         and result, in C++, since this one could not keep the server busy)
         and this one only if that does not compile.

Wire format (src/control/frame.h, src/control/messages.h):
  frame   = version u8 (1) | type u8 | length u16 BE | payload
  payload = TLV fields: tag u8 | length u16 BE | value
  HELLO   = 1 ciphers (u16 list) | 2 encap u8 | 3 spi_s2c u32 | 5 data_port u16
"""
import argparse
import asyncio
import datetime
import json
import os
import resource
import ssl
import statistics
import struct
import sys
import time

PROTO_VERSION = 1
T_HELLO, T_CONFIG, T_PING, T_PONG, T_BYE = 1, 2, 5, 6, 7
CIPHER_AES256GCM = 1
ENCAP_UDP = 1


def tlv(tag, value):
    return struct.pack("!BH", tag, len(value)) + value


def frame(msg_type, payload):
    return struct.pack("!BBH", PROTO_VERSION, msg_type, len(payload)) + payload


def hello(spi, data_port=4500):
    body = (tlv(1, struct.pack("!H", CIPHER_AES256GCM)) +
            tlv(2, struct.pack("!B", ENCAP_UDP)) +
            tlv(3, struct.pack("!I", spi)) +
            tlv(5, struct.pack("!H", data_port)))
    return frame(T_HELLO, body)


def bye_reason(payload):
    """The reason field (tag 1) of a BYE body, best effort."""
    if len(payload) >= 3 and payload[0] == 1:
        n = struct.unpack("!H", payload[1:3])[0]
        return payload[3:3 + n].decode("ascii", "replace")
    return "(no reason)"


def client_name(i):
    return "bench%05d" % i


# ---- mint ---------------------------------------------------------------------

def cmd_mint(a):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(a.ca_cert, "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(a.ca_key, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    os.makedirs(a.out, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(a.out, "client.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    pub = key.public_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    for i in range(1, a.n + 1):
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, client_name(i))]))
             .issuer_name(ca_cert.subject)
             .public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False,
                                          decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False))
        cert = b.sign(ca_key, hashes.SHA256())
        with open(os.path.join(a.out, client_name(i) + ".crt"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    print("minted %d certificates in %.1f s" % (a.n, time.monotonic() - t0))


# ---- load ---------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.admitted = 0
        self.failed = 0
        self.reasons = {}
        self.latencies = []
        self.lost_after = 0      # admitted, then closed by the server while held
        self.lost_reasons = {}

    def fail(self, why):
        self.failed += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1


async def read_frame(reader):
    hdr = await reader.readexactly(4)
    version, msg_type, length = struct.unpack("!BBH", hdr)
    if version != PROTO_VERSION:
        raise ValueError("frame version %d" % version)
    return msg_type, await reader.readexactly(length)


async def hold(reader, writer, stats, stop):
    """Keeps an admitted session alive: answers pings until stop is set."""
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while True:
            rd = asyncio.ensure_future(read_frame(reader))
            done, _ = await asyncio.wait({rd, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                rd.cancel()
                return
            msg_type, payload = rd.result()
            if msg_type == T_PING:
                writer.write(frame(T_PONG, payload))
            elif msg_type == T_BYE:
                why = "bye: " + bye_reason(payload)
                stats.lost_after += 1
                stats.lost_reasons[why] = stats.lost_reasons.get(why, 0) + 1
                return
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError, ValueError) as e:
        if not stop.is_set():
            why = type(e).__name__
            stats.lost_after += 1
            stats.lost_reasons[why] = stats.lost_reasons.get(why, 0) + 1
    finally:
        stopper.cancel()


async def one_client(i, ctx, a, sem, stats, stop, holders, writers):
    async with sem:
        t0 = time.monotonic()
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.server_name,
                                        ssl_handshake_timeout=a.timeout),
                a.timeout)
            writer.write(hello(256 + i))
            deadline = t0 + a.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise asyncio.TimeoutError()
                msg_type, payload = await asyncio.wait_for(read_frame(reader), left)
                if msg_type == T_CONFIG:
                    break
                if msg_type == T_PING:
                    writer.write(frame(T_PONG, payload))
                elif msg_type == T_BYE:
                    raise RuntimeError("refused: " + bye_reason(payload))
        except asyncio.TimeoutError:
            stats.fail("timeout after %g s" % a.timeout)
            if writer:
                writer.close()
            return
        except (RuntimeError, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError,
                OSError, ValueError) as e:
            why = str(e) if isinstance(e, RuntimeError) else "%s: %s" % (type(e).__name__, e)
            stats.fail(why[:160])
            if writer:
                writer.close()
            return
        stats.admitted += 1
        stats.latencies.append(time.monotonic() - t0)
    writers.append(writer)
    holders.append(asyncio.ensure_future(hold(reader, writer, stats, stop)))


def make_contexts(a):
    with open(a.ca, "rb") as f:
        ca_pem = f.read().decode()
    key = os.path.join(a.certs, "client.key")
    ctxs = []
    for i in range(1, a.n + 1):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False          # the CN is checked by lanmesh clients; not needed here
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca_pem)
        ctx.load_cert_chain(os.path.join(a.certs, client_name(i) + ".crt"), key)
        ctxs.append(ctx)
    return ctxs


async def run_load(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 1024), hard))
    t_prep = time.monotonic()
    ctxs = make_contexts(a)
    prep = time.monotonic() - t_prep

    stats = Stats()
    stop = asyncio.Event()
    sem = asyncio.Semaphore(a.concurrency)
    holders, writers = [], []
    if a.go_file:
        open(a.go_file, "w").close()       # tells the caller the clock starts now
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one_client(i + 1, ctxs[i], a, sem, stats, stop, holders, writers))
             for i in range(a.n)]
    done, pending = await asyncio.wait(tasks, timeout=a.deadline)
    elapsed = time.monotonic() - t0
    for t in pending:
        t.cancel()
    if pending:
        stats.failed += len(pending)
        stats.reasons["not finished within the %g s deadline" % a.deadline] = len(pending)
    lat = sorted(stats.latencies)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None

    result = {
        "n": a.n,
        "admitted": stats.admitted,
        "failed": stats.failed,
        "failure_reasons": stats.reasons,
        "elapsed_s": round(elapsed, 3),
        "admits_per_s": round(stats.admitted / elapsed, 1) if elapsed > 0 else None,
        "latency_ms_p50": pct(0.5),
        "latency_ms_p99": pct(0.99),
        "latency_ms_mean": round(statistics.mean(lat) * 1000, 1) if lat else None,
        "concurrency": a.concurrency,
        "context_prep_s": round(prep, 2),
    }
    tmp = a.result + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.rename(tmp, a.result)

    # Hold every admitted session until released (or --hold runs out).
    t_hold = time.monotonic()
    while time.monotonic() - t_hold < a.hold:
        if a.release and os.path.exists(a.release):
            break
        await asyncio.sleep(0.1)
    result["lost_while_held"] = stats.lost_after
    result["lost_while_held_reasons"] = stats.lost_reasons
    stop.set()
    for w in writers:
        try:
            w.close()
        except Exception:
            pass
    if holders:
        await asyncio.wait(holders, timeout=10)
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.rename(tmp, a.result)
    print(json.dumps(result))


def cmd_load(a):
    asyncio.run(run_load(a))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mint")
    m.add_argument("--ca-cert", required=True)
    m.add_argument("--ca-key", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("-n", type=int, required=True)
    m.set_defaults(func=cmd_mint)
    ld = sub.add_parser("load")
    ld.add_argument("--host", default="127.0.0.1")
    ld.add_argument("--port", type=int, default=4500)
    ld.add_argument("--server-name", default="server")
    ld.add_argument("--ca", required=True)
    ld.add_argument("--certs", required=True, help="directory written by mint")
    ld.add_argument("-n", type=int, required=True)
    ld.add_argument("--concurrency", type=int, default=128,
                    help="sessions between connect and CONFIG at once (server refuses over 1024)")
    ld.add_argument("--timeout", type=float, default=30, help="per session, connect to CONFIG")
    ld.add_argument("--deadline", type=float, default=120, help="for all N sessions")
    ld.add_argument("--hold", type=float, default=60, help="longest hold after admission")
    ld.add_argument("--result", required=True, help="JSON written when all sessions are done")
    ld.add_argument("--release", help="hold until this file exists")
    ld.add_argument("--go-file", help="created when the clock starts")
    ld.set_defaults(func=cmd_load)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    sys.exit(main())
