// SPDX-License-Identifier: MIT
// Fuzz target: the receive side of the data plane for one packet, run by
// the data path's own core (data/packet_core.h) as Dataplane::handle_esp
// runs it -- SA lookup by SPI, replay pre-check, AEAD open and trailer check
// (esp_open), replay window update, inner packet check (parse_inner) and
// the source address filter.
//
// A forged packet never gets past the ICV, so the input is a list of records
// that either are packets as they arrive or are sealed first with the SA's
// key, which is fixed here (a test key, never logged):
//
//   record = op(u8) | len(u16 BE) | data[len]     (the last may be cut short)
//   op % 4 == 0  data is an ESP packet from the wire
//   op % 4 == 1  data = sa(u8) | seq(u32) | plaintext: the plaintext
//                (inner | padding | pad length | next header) is encrypted
//                as it is, so a malformed trailer reaches esp_open's checks
//   op % 4 == 2  data = sa(u8) | seq(u32) | next header(u8) | inner: sealed by
//                esp_seal, and must open to exactly that inner packet
//   op % 4 == 3  as 2, then the byte at data's last position is flipped in
//                the packet (modulo its length): must never open
//
// Each input starts from fresh SAs, so the replay window sees the records of
// one input in order and nothing of the inputs before.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto/aead.h"
#include "data/inner_packet.h"
#include "data/packet_core.h"
#include "data/sa.h"
#include "data/tunnel.h"
#include "esp/esp.h"
#include "fuzz_check.h"

namespace lm {
namespace {

constexpr uint32_t kSpis[2] = {0x1001, 0x2002};
constexpr Cipher kCiphers[2] = {Cipher::aes256gcm, Cipher::chacha20poly1305};

KeyMaterial test_key(int which) {
    KeyMaterial km;
    for (size_t i = 0; i < kAeadKeyLen; i++) km.key[i] = uint8_t(0x40 * which + i);
    for (size_t i = 0; i < kAeadSaltLen; i++) km.salt[i] = uint8_t(0xa0 + 0x10 * which + i);
    return km;
}

// One peer with an inbound SA per cipher, and the sender's side of each.
struct Peer {
    Tunnel tunnel;
    SaTable table;
    InboundSa in[2];
    SaKeys out[2];
    DataCounters counters;
    DataPolicy policy = DataPolicy::client(nullptr, nullptr);
    PacketCore core{counters, table, 0, policy};

    Peer() {
        tunnel.allowed_src = {*Prefix::parse("198.18.0.0/15"), *Prefix::parse("2001:db8::/32")};
        for (int i = 0; i < 2; i++) {
            KeyMaterial km = test_key(i);
            in[i].spi = kSpis[i];
            in[i].cipher = kCiphers[i];
            in[i].tunnel = &tunnel;
            LM_FUZZ_CHECK(in[i].keys.set(kCiphers[i], km, false));
            LM_FUZZ_CHECK(out[i].set(kCiphers[i], km, true));
            km.wipe();
            table.insert(&in[i]);
        }
    }
};

enum class Verdict { dropped, inner_bad, src_refused, dummy, delivered };

// What the data plane would do with this packet, without the sockets.
// `pkt` is exactly `len` bytes of heap, so ASan sees any read past the
// packet.  *out_inner is set when it opened.
Verdict receive(Peer &peer, uint8_t *pkt, size_t len, std::vector<uint8_t> *out_inner) {
    static const Endpoint from{*IpAddr::parse("192.0.2.1"), 4500};
    if (peer.core.classify_udp(pkt, len, from) != UdpKind::esp) return Verdict::dropped;
    EspVerdict v = peer.core.open_esp(pkt, len, from, 0);
    if (v.action == EspVerdict::drop) return Verdict::dropped;
    LM_FUZZ_CHECK(v.action == EspVerdict::dummy || v.action == EspVerdict::decrypted);
    LM_FUZZ_CHECK(v.inner >= pkt && v.inner + v.inner_len <= pkt + len);
    LM_FUZZ_CHECK(v.inner_len + kEspHeaderLen + kEspIvLen + 2 + kAeadTagLen <= len);
    out_inner->assign(v.inner, v.inner + v.inner_len);
    if (v.action == EspVerdict::dummy) return Verdict::dummy;
    InnerVerdict d = peer.core.route_decrypted(*v.tunnel, v.inner, v.inner_len, v.next_header);
    if (d.action == InnerVerdict::drop) {
        LM_FUZZ_CHECK(d.why == Drop::bad_inner || d.why == Drop::src_not_allowed);
        return d.why == Drop::bad_inner ? Verdict::inner_bad : Verdict::src_refused;
    }
    LM_FUZZ_CHECK(d.action == InnerVerdict::tun && d.len <= v.inner_len);
    return Verdict::delivered;
}

std::unique_ptr<uint8_t[]> exact_copy(const uint8_t *p, size_t n) {
    std::unique_ptr<uint8_t[]> b(new uint8_t[n ? n : 1]);
    if (n) std::memcpy(b.get(), p, n);
    return b;
}

void wire(Peer &peer, const uint8_t *d, size_t n) {
    auto pkt = exact_copy(d, n);
    std::vector<uint8_t> inner;
    receive(peer, pkt.get(), n, &inner);
}

// Builds SPI | seq | IV | ciphertext | ICV around `pt`, encrypted as it is.
void seal_raw(Peer &peer, const uint8_t *d, size_t n) {
    if (n < 5) return;
    int which = d[0] & 1;
    uint32_t seq = load_be32(d + 1);
    const uint8_t *pt = d + 5;
    size_t pt_len = n - 5;
    size_t len = kEspHeaderLen + kEspIvLen + pt_len + kAeadTagLen;
    std::unique_ptr<uint8_t[]> pkt(new uint8_t[len]);
    store_be32(pkt.get(), kSpis[which]);
    store_be32(pkt.get() + 4, seq);
    store_be64(pkt.get() + 8, seq);
    Aead *aead = peer.out[which].get(0);
    LM_FUZZ_CHECK(aead != nullptr);
    uint8_t *ct = pkt.get() + kEspHeaderLen + kEspIvLen;
    LM_FUZZ_CHECK(aead->seal(pkt.get() + 8, pkt.get(), kEspHeaderLen, pt, pt_len, ct, ct + pt_len));
    std::vector<uint8_t> inner;
    receive(peer, pkt.get(), len, &inner);
}

void seal_esp(Peer &peer, const uint8_t *d, size_t n, bool flip) {
    if (n < 6) return;
    int which = d[0] & 1;
    uint32_t seq = load_be32(d + 1);
    uint8_t nh = d[5];
    const uint8_t *in = d + 6;
    size_t in_len = n - 6;
    size_t cap = in_len + kEspOverheadMax;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[cap]);
    Aead *aead = peer.out[which].get(0);
    LM_FUZZ_CHECK(aead != nullptr);
    size_t len = esp_seal(*aead, kSpis[which], seq, nh, in, in_len, buf.get(), cap);
    LM_FUZZ_CHECK(len > 0 && len <= cap);
    if (flip) buf[d[n - 1] % len] ^= 0x01;
    auto pkt = exact_copy(buf.get(), len);
    bool fresh = seq != 0 && peer.in[which].replay.check(seq);
    std::vector<uint8_t> inner;
    Verdict v = receive(peer, pkt.get(), len, &inner);
    if (flip) {
        // Any changed bit breaks the ICV, or names another SA or sequence
        // number, whose check fails as well.
        LM_FUZZ_CHECK(v == Verdict::dropped);
    } else if (fresh) {
        LM_FUZZ_CHECK(v != Verdict::dropped);
        LM_FUZZ_CHECK(inner.size() == in_len && (in_len == 0 || std::memcmp(inner.data(), in, in_len) == 0));
    } else {
        LM_FUZZ_CHECK(v == Verdict::dropped);   // a replay
    }
}

}  // namespace
}  // namespace lm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace lm;
    fuzz::quiet_logs();
    Peer peer;
    size_t off = 0;
    while (off < size) {
        uint8_t op = data[off++];
        size_t n = 0;
        if (size - off >= 2) {
            n = load_be16(data + off);
            off += 2;
        }
        if (n > size - off) n = size - off;
        const uint8_t *d = data + off;
        off += n;
        switch (op % 4) {
        case 0: wire(peer, d, n); break;
        case 1: seal_raw(peer, d, n); break;
        case 2: seal_esp(peer, d, n, false); break;
        case 3: seal_esp(peer, d, n, true); break;
        }
    }
    return 0;
}
