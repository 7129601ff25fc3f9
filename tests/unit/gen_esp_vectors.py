#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Independent oracle for the ESP known-answer tests in test_esp.cc.

Builds tunnel-mode ESP packets (RFC 4303) with python3-cryptography's AESGCM
and ChaCha20Poly1305, following docs/PROTOCOLS.md sections 1, 2 and 9: nonce =
salt || IV, IV = 64-bit big-endian sequence number, AAD = SPI || seq (no ESN),
pad bytes 1, 2, 3 so that plaintext + 2 is a multiple of 4.  It shares no code
with the C++ implementation.  Prints the C++ constants for test_esp.cc:

    python3 tests/unit/gen_esp_vectors.py
"""
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


def csum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp4_echo(src: bytes, dst: bytes, ident: int, seq: int, payload: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    # version/IHL, TOS, length, id 1, no flags, TTL 64, protocol ICMP
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 1, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + icmp


def icmp6_echo(src: bytes, dst: bytes, ident: int, seq: int, payload: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    pseudo = src + dst + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", csum(pseudo + icmp)) + icmp[4:]
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), 58, 64, src, dst)
    return ip + icmp


def esp(aead_cls, key_salt: bytes, spi: int, seq: int, next_header: int, inner: bytes) -> bytes:
    key, salt = key_salt[:-4], key_salt[-4:]
    pad_len = -(len(inner) + 2) % 4
    plaintext = inner + bytes(range(1, pad_len + 1)) + bytes([pad_len, next_header])
    header = struct.pack("!II", spi, seq)
    iv = struct.pack("!Q", seq)
    sealed = aead_cls(key).encrypt(salt + iv, plaintext, header)  # ciphertext || tag
    return header + iv + sealed


def cxx(name: str, data: bytes) -> str:
    rows = [data[i:i + 16].hex() for i in range(0, len(data), 16)]
    body = "\n".join(f'    "{r}"' for r in rows)
    return f"// {len(data)} bytes\nconst char *const {name} =\n{body};\n"


def main() -> None:
    aes_key = bytes(range(0x20, 0x40)) + bytes.fromhex("b0b1b2b3")     # docs/PROTOCOLS.md §9, SPI 0x102
    chacha_key = bytes(range(0x40, 0x60)) + bytes.fromhex("c0c1c2c3")  # docs/PROTOCOLS.md §9, SPI 0x104
    v4 = icmp4_echo(bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]), 7, 1, b"esp-test-payload")
    a6 = bytes.fromhex("20010db8000000000000000000000001")
    b6 = bytes.fromhex("20010db8000000000000000000000002")
    v6 = icmp6_echo(a6, b6, 7, 1, b"esp-test-v6-pad")  # 63 bytes: three pad bytes

    # Self-check against the AES-128-GCM vector that docs/PROTOCOLS.md §9 verified
    # with scapy and tshark (SPI 0x101, 80 bytes, ICV ending acbfe331): same
    # inner packet bytes, same ESP rules.
    ref = esp(AESGCM, bytes(range(16)) + bytes.fromhex("a0a1a2a3"), 0x101, 1, 4, v4)
    assert len(ref) == 80 and ref.endswith(bytes.fromhex("acbfe331")), ref.hex()

    print(cxx("kInner4", v4))
    print(cxx("kInner6", v6))
    print(cxx("kAesSpi102Seq1", esp(AESGCM, aes_key, 0x102, 1, 4, v4)))
    print(cxx("kChachaSpi104Seq1", esp(ChaCha20Poly1305, chacha_key, 0x104, 1, 4, v4)))
    print(cxx("kAesSpi105SeqFffffffe", esp(AESGCM, aes_key, 0x105, 0xFFFFFFFE, 41, v6)))
    print(cxx("kChachaSpi106Seq01020304", esp(ChaCha20Poly1305, chacha_key, 0x106, 0x01020304, 41, v6)))


if __name__ == "__main__":
    main()
