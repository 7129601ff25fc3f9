// SPDX-License-Identifier: MIT
// Cryptography of a client pair (the mesh): ephemeral X25519 keys signed with
// each node's certificate key, verified against the network's CA, and the
// pair's ESP and probe keys derived with HKDF.  The server relays the signed
// public keys but never holds a private one, so it cannot derive pair keys.
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "crypto/aead.h"

namespace lm {

struct EvpPkeyFree {
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
struct X509Free {
    void operator()(X509 *x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

using X25519Pub = std::array<uint8_t, 32>;

// A fresh X25519 key pair; nullptr on failure.
PkeyPtr x25519_generate(X25519Pub *pub);

// What a PeerKey signature covers; both ends build it the same way.
std::vector<uint8_t> peer_key_transcript(uint64_t intro_id, const std::string &sender,
                                         const std::string &receiver, uint32_t epoch,
                                         const X25519Pub &pub, uint32_t spi, Cipher cipher,
                                         bool answer);

bool sign_with(EVP_PKEY *key, const std::vector<uint8_t> &data, std::vector<uint8_t> *sig);
bool verify_with(X509 *cert, const std::vector<uint8_t> &data, const std::vector<uint8_t> &sig);

// Parses a peer certificate and checks it against `store` (CA and CRL) as a
// client certificate whose common name is `name`.  *why says what failed.
X509Ptr verify_peer_cert(X509_STORE *store, const std::vector<uint8_t> &der,
                         const std::string &name, std::string *why);

struct PairKeys {
    KeyMaterial lo_to_hi, hi_to_lo;   // "lo" is the node whose name sorts first
    uint8_t probe[32];                 // HMAC key for hole-punch probes
    void wipe();
};

bool derive_pair_keys(EVP_PKEY *mine, const X25519Pub &theirs, uint64_t intro_id, uint32_t epoch,
                      Cipher cipher, const std::string &name_lo, const std::string &name_hi,
                      const X25519Pub &pub_lo, const X25519Pub &pub_hi, PairKeys *out);

}  // namespace lm
