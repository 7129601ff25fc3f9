// SPDX-License-Identifier: MIT
// The kinds every layer names: a node's role, the address topology, what
// clients may send each other, the encapsulation and the ciphers.  They live
// here, below config/, so that crypto/, esp/ and data/ can use them without
// depending on the configuration parser (docs/DESIGN.md, layers).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace lm {

enum class Role { server, client };
enum class Topology { net30, p2p, subnet };
enum class ClientToClient { off, relay, direct };
// The data path's steps, best first: raw ESP, ESP in UDP, ESP carried in
// the TLS control connection (client/path_ladder.h).
enum class Encapsulation { auto_, udp, raw, tls };
enum class Cipher : uint16_t { aes256gcm = 1, chacha20poly1305 = 2 };

const char *to_string(Role);
const char *to_string(Topology);
const char *to_string(ClientToClient);
const char *to_string(Encapsulation);
const char *to_string(Cipher);            // "aes-256-gcm", "chacha20-poly1305"
std::optional<Cipher> cipher_from_string(const std::string &);

}  // namespace lm
