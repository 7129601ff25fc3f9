// SPDX-License-Identifier: MIT
// Debug key export: appends each ESP SA to a file in Wireshark's esp_sa UAT
// format so tshark can decrypt a capture.  Off unless DebugKeyFile is set;
// the file is created mode 0600.  This is the only place key bytes leave
// the process, and it says so in lanmesh.conf(5).
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "config/config.h"
#include "crypto/aead.h"

namespace lm {

class KeyExport {
public:
    bool open(const std::string &path, std::string *err);
    bool enabled() const { return fd_ >= 0; }
    // outer_v6 picks the UAT protocol column ("IPv4"/"IPv6").
    void write(uint32_t spi, Cipher c, const KeyMaterial &km, bool outer_v6, const char *what);
    // The key || salt last written for `spi`, as hex, for `lanmesh sa show`;
    // "" when export is off or the SPI is unknown.  Only the newest
    // kKeepKeys entries are kept.
    std::string key_hex(uint32_t spi) const;
    // Lines written while the data-plane workers are held wait in memory
    // until flush(), which Node calls once they run again: a file write
    // is a blocking call (common/might_block.h).
    void flush();
    ~KeyExport();

private:
    static constexpr size_t kKeepKeys = 1024;
    int fd_ = -1;
    std::deque<std::pair<uint32_t, std::string>> recent_;   // oldest first
    std::string pending_;   // key lines not yet written; wiped once they are
};

}  // namespace lm
