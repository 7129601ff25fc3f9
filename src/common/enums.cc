// SPDX-License-Identifier: MIT
// Names of the shared kinds, as the configuration file and the CLI write them.
#include "common/enums.h"

namespace lm {

const char *to_string(Role r) {
    switch (r) {
    case Role::server: return "server";
    case Role::client: return "client";
    }
    return "unknown";
}

const char *to_string(Topology t) {
    switch (t) {
    case Topology::net30: return "net30";
    case Topology::p2p: return "p2p";
    case Topology::subnet: return "subnet";
    }
    return "unknown";
}

const char *to_string(ClientToClient c) {
    switch (c) {
    case ClientToClient::off: return "off";
    case ClientToClient::relay: return "relay";
    case ClientToClient::direct: return "direct";
    }
    return "unknown";
}

const char *to_string(Encapsulation e) {
    switch (e) {
    case Encapsulation::auto_: return "auto";
    case Encapsulation::udp: return "udp";
    case Encapsulation::raw: return "raw";
    case Encapsulation::tls: return "tls";
    }
    return "unknown";
}

const char *to_string(Cipher c) {
    switch (c) {
    case Cipher::aes256gcm: return "aes-256-gcm";
    case Cipher::chacha20poly1305: return "chacha20-poly1305";
    }
    return "unknown";
}

std::optional<Cipher> cipher_from_string(const std::string &s) {
    if (s == "aes-256-gcm") return Cipher::aes256gcm;
    if (s == "chacha20-poly1305") return Cipher::chacha20poly1305;
    return std::nullopt;
}

}  // namespace lm
