// SPDX-License-Identifier: MIT
// The ESP SAs of one TLS session (client <-> server): derivation from the TLS
// exporter, installation, and make-before-break rekeying.
//
// Each direction's key is bound to that direction, the epoch and the
// receiver's SPI (exporter context below), so a receiver can derive and
// install its new inbound SA before it tells the sender the SPI, and the
// sender can switch the moment it hears it: no packet is ever sent to an SA
// the receiver does not have yet.
//
//   initiator                                  responder
//   new inbound SPI i, install inbound(e+1)
//   REKEY{e+1, i}  ------------------------->  new inbound SPI r, install inbound(e+1)
//                                              switch outbound to (e+1, i)
//                  <-------------------------  REKEY_ACK{e+1, r}
//   switch outbound to (e+1, r)
//
// The previous inbound SA lives RekeyGrace seconds more for packets in flight.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <string>

#include "config/config.h"
#include "control/key_export.h"
#include "control/messages.h"
#include "crypto/aead.h"
#include "data/sa.h"
#include "data/tunnel.h"

namespace lm {

// One direction's key from the TLS exporter (control/tls.h has the context).
bool derive_esp_key(SSL *ssl, Cipher c, uint32_t epoch, bool client_to_server, uint32_t spi,
                    KeyMaterial *out);

struct RekeyLimits {
    int after_time = 3600;
    uint64_t after_bytes = 1ull << 40;
    uint64_t after_packets = 1ull << 30;
    int grace = 30;
};

class Keying {
public:
    Keying(SaTable &sas, Tunnel &t, bool is_server, KeyExport *exp)
        : sas_(sas), t_(t), is_server_(is_server), export_(exp) {}
    ~Keying() { clear(); }

    void set_cipher(Cipher c) { cipher_ = c; }
    // Also moves the current outbound SA's packet limit (workers paused).
    void set_limits(const RekeyLimits &l) {
        limits_ = l;
        if (t_.out) t_.out->rekey_at = l.after_packets;
    }
    Cipher cipher() const { return cipher_; }
    uint32_t epoch() const { return epoch_; }
    bool outer_v6 = false;

    // A fresh inbound SPI for the first SA (sent in HELLO or CONFIG).
    uint32_t reserve_spi() { return sas_.allocate_spi(); }
    // Epoch 0: both SPIs known after HELLO/CONFIG.
    bool install_initial(SSL *ssl, uint32_t my_spi, uint32_t peer_spi, std::string *err);

    // Initiator side.  Returns false if a rekey is already under way.
    bool start_rekey(SSL *ssl, Rekey *req, std::string *err);
    // Responder side.  *ack is to be sent back.  A collision (both sides
    // started at once) is resolved in favour of the client.
    enum class Answer { send_ack, ignore, error };
    Answer on_rekey(SSL *ssl, const Rekey &req, Rekey *ack, std::string *err);
    bool on_rekey_ack(SSL *ssl, const Rekey &ack, std::string *err);

    // Housekeeping: retires the old inbound SA after the grace period;
    // returns true when the outbound SA has reached a rekey limit.  The
    // packet limit is also watched in the data path, which wakes the
    // control thread (Node::rekey_role) the moment it is reached.
    bool tick(time_t now);
    bool rekey_pending() const { return pending_; }
    void clear();          // removes every SA of this session
    uint64_t rekeys() const { return rekeys_; }

private:
    bool install_inbound(SSL *ssl, uint32_t epoch, uint32_t spi, std::string *err);
    bool install_outbound(SSL *ssl, uint32_t epoch, uint32_t spi, std::string *err);
    bool my_direction_c2s() const { return !is_server_; }

    SaTable &sas_;
    Tunnel &t_;
    bool is_server_;
    KeyExport *export_;
    Cipher cipher_ = Cipher::aes256gcm;
    RekeyLimits limits_;
    uint32_t epoch_ = 0;
    bool pending_ = false;
    uint32_t pending_spi_ = 0;
    uint64_t rekeys_ = 0;
};

}  // namespace lm
