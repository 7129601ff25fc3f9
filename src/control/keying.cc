// SPDX-License-Identifier: MIT
#include "control/keying.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/log.h"
#include "control/tls.h"

namespace lm {

bool derive_esp_key(SSL *ssl, Cipher c, uint32_t epoch, bool c2s, uint32_t spi, KeyMaterial *out) {
    uint8_t km[kEspKeyMaterialLen];
    if (!tls_export_esp_key(ssl, uint16_t(c), epoch, c2s, spi, km)) return false;
    std::memcpy(out->key, km, 32);
    std::memcpy(out->salt, km + 32, 4);
    OPENSSL_cleanse(km, sizeof km);
    return true;
}

bool Keying::install_inbound(SSL *ssl, uint32_t epoch, uint32_t spi, std::string *err) {
    KeyMaterial km;
    // Inbound traffic flows in the peer's direction.
    if (!derive_esp_key(ssl, cipher_, epoch, !my_direction_c2s(), spi, &km)) {
        *err = "TLS exporter failed";
        return false;
    }
    auto sa = std::make_unique<InboundSa>();
    sa->spi = spi;
    sa->epoch = epoch;
    sa->cipher = cipher_;
    sa->tunnel = &t_;
    sa->created = time(nullptr);
    bool ok = sa->keys.set(cipher_, km, false);
    if (export_ && export_->enabled()) export_->write(spi, cipher_, km, outer_v6, ("inbound from " + t_.name).c_str());
    km.wipe();
    if (!ok) {
        *err = "cannot initialise AEAD";
        return false;
    }
    // The current inbound SA becomes the old one and lives out its grace.
    if (t_.in_old) sas_.erase(t_.in_old->spi);
    t_.in_old = std::move(t_.in_cur);
    t_.in_old_expires = time(nullptr) + limits_.grace;
    t_.in_cur = std::move(sa);
    sas_.insert(t_.in_cur.get());
    return true;
}

bool Keying::install_outbound(SSL *ssl, uint32_t epoch, uint32_t spi, std::string *err) {
    KeyMaterial km;
    if (!derive_esp_key(ssl, cipher_, epoch, my_direction_c2s(), spi, &km)) {
        *err = "TLS exporter failed";
        return false;
    }
    auto sa = std::make_unique<OutboundSa>();
    sa->spi = spi;
    sa->epoch = epoch;
    sa->cipher = cipher_;
    sa->created = time(nullptr);
    sa->rekey_at = limits_.after_packets;
    bool ok = sa->keys.set(cipher_, km, true);
    if (export_ && export_->enabled()) export_->write(spi, cipher_, km, outer_v6, ("outbound to " + t_.name).c_str());
    km.wipe();
    if (!ok) {
        *err = "cannot initialise AEAD";
        return false;
    }
    t_.out = std::move(sa);
    epoch_ = epoch;
    return true;
}

bool Keying::install_initial(SSL *ssl, uint32_t my_spi, uint32_t peer_spi, std::string *err) {
    clear();
    epoch_ = 0;
    return install_inbound(ssl, 0, my_spi, err) && install_outbound(ssl, 0, peer_spi, err);
}

bool Keying::start_rekey(SSL *ssl, Rekey *req, std::string *err) {
    if (pending_) return false;
    uint32_t spi = sas_.allocate_spi();
    if (!install_inbound(ssl, epoch_ + 1, spi, err)) return false;
    pending_ = true;
    pending_spi_ = spi;
    req->epoch = epoch_ + 1;
    req->spi = spi;
    return true;
}

Keying::Answer Keying::on_rekey(SSL *ssl, const Rekey &req, Rekey *ack, std::string *err) {
    if (req.epoch != epoch_ + 1) {
        *err = "rekey for epoch " + std::to_string(req.epoch) + ", current is " + std::to_string(epoch_);
        return Answer::error;
    }
    if (pending_) {
        // Both sides started at once: the client's request wins.  The server
        // drops the inbound SA it had prepared and answers; the client
        // ignores the server's request and waits for that answer.
        if (!is_server_) return Answer::ignore;
        pending_ = false;
        if (t_.in_cur && t_.in_cur->spi == pending_spi_) {
            sas_.erase(pending_spi_);
            t_.in_cur = std::move(t_.in_old);
        }
    }
    uint32_t spi = sas_.allocate_spi();
    if (!install_inbound(ssl, req.epoch, spi, err)) return Answer::error;
    if (!install_outbound(ssl, req.epoch, req.spi, err)) return Answer::error;
    ack->epoch = req.epoch;
    ack->spi = spi;
    rekeys_++;
    return Answer::send_ack;
}

bool Keying::on_rekey_ack(SSL *ssl, const Rekey &ack, std::string *err) {
    if (!pending_ || ack.epoch != epoch_ + 1) {
        *err = "unexpected rekey answer for epoch " + std::to_string(ack.epoch);
        return false;
    }
    pending_ = false;
    rekeys_++;
    return install_outbound(ssl, ack.epoch, ack.spi, err);
}

bool Keying::tick(time_t now) {
    if (t_.in_old && now >= t_.in_old_expires) {
        sas_.erase(t_.in_old->spi);
        t_.in_old.reset();
    }
    const OutboundSa *o = t_.out.get();
    if (!o || pending_) return false;
    return now - o->created >= limits_.after_time || o->bytes() >= limits_.after_bytes ||
           o->packets() >= limits_.after_packets || o->rekey_due();
}

void Keying::clear() {
    if (t_.in_cur) sas_.erase(t_.in_cur->spi);
    if (t_.in_old) sas_.erase(t_.in_old->spi);
    t_.in_cur.reset();
    t_.in_old.reset();
    t_.out.reset();
    pending_ = false;
}

}  // namespace lm
