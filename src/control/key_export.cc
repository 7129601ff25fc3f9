// SPDX-License-Identifier: MIT
#include "control/key_export.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/might_block.h"

namespace lm {

bool KeyExport::open(const std::string &path, std::string *err) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
        *err = "cannot open DebugKeyFile " + path + ": " + strerror(errno);
        return false;
    }
    const char *hdr = "# lanmesh debug key export: ESP SAs in Wireshark esp_sa UAT format.\n"
                      "# Anyone with this file can decrypt the traffic. Delete it after use.\n";
    if (::write(fd_, hdr, strlen(hdr)) < 0) {
        *err = "cannot write DebugKeyFile " + path + ": " + strerror(errno);
        return false;
    }
    return true;
}

void KeyExport::flush() {
    if (pending_.empty()) return;
    might_block(BlockingCall::file, "DebugKeyFile");
    if (::write(fd_, pending_.data(), pending_.size()) < 0) { /* debugging aid only: nothing to do */ }
    explicit_bzero(pending_.data(), pending_.size());
    pending_.clear();
}

KeyExport::~KeyExport() {
    flush();
    if (fd_ >= 0) close(fd_);
    for (auto &[_, hex] : recent_) explicit_bzero(hex.data(), hex.size());
}

std::string KeyExport::key_hex(uint32_t spi) const {
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it)
        if (it->first == spi) return it->second;
    return "";
}

void KeyExport::write(uint32_t spi, Cipher c, const KeyMaterial &km, bool outer_v6, const char *what) {
    if (fd_ < 0) return;
    // Wireshark 4.0 knows AES-GCM; ChaCha20-Poly1305 only from 4.2 on.
    const char *alg = c == Cipher::aes256gcm ? "AES-GCM with 16 octet ICV [RFC4106]"
                                             : "ChaCha20 with Poly1305 [RFC7634]";
    char hex[2 * 36 + 1];
    for (int i = 0; i < 32; i++) std::snprintf(hex + 2 * i, 3, "%02x", km.key[i]);
    for (int i = 0; i < 4; i++) std::snprintf(hex + 64 + 2 * i, 3, "%02x", km.salt[i]);
    char line[512];
    int n = std::snprintf(line, sizeof line, "# %s\n\"%s\",\"*\",\"*\",\"0x%08x\",\"%s\",\"0x%s\",\"NULL\",\"\"\n",
                          what, outer_v6 ? "IPv6" : "IPv4", spi, alg, hex);
    // pending_ never reallocates with key bytes in it unwiped: room for a
    // few lines is reserved before the first one goes in.
    if (pending_.capacity() < 4096) pending_.reserve(4096);
    if (pending_.size() + size_t(n) > pending_.capacity()) {
        std::string bigger;
        bigger.reserve(pending_.capacity() * 2);
        bigger = pending_;
        explicit_bzero(pending_.data(), pending_.size());
        pending_.swap(bigger);
    }
    pending_.append(line, size_t(n));
    if (!workers_held_here()) flush();
    if (recent_.size() >= kKeepKeys) {
        explicit_bzero(recent_.front().second.data(), recent_.front().second.size());
        recent_.pop_front();
    }
    recent_.emplace_back(spi, hex);
    explicit_bzero(hex, sizeof hex);
    explicit_bzero(line, sizeof line);
}

}  // namespace lm
