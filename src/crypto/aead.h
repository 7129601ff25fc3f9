// SPDX-License-Identifier: MIT
// AEAD for the ESP data plane: AES-256-GCM (RFC 4106) and ChaCha20-Poly1305
// (RFC 7634) through OpenSSL 3 EVP.  Both use a 12-byte nonce built as
// salt(4) || explicit IV(8) and a 16-byte tag; see docs/PROTOCOLS.md §2.
//
// Data path only: no allocation, no logging and no exceptions per packet.
// One Aead is one SA in one direction, used by one thread at a time.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/enums.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace lm {

constexpr size_t kAeadKeyLen = 32, kAeadSaltLen = 4, kAeadTagLen = 16, kEspIvLen = 8;

// Key material of one SA: key || salt, 36 bytes for both ciphers
// (RFC 4106 §8.1, RFC 7634 §2).  Plain data so it can sit in SA snapshots;
// whoever owns a copy calls wipe() when done with it.
struct KeyMaterial {
    uint8_t key[kAeadKeyLen];
    uint8_t salt[kAeadSaltLen];
    void wipe();  // OPENSSL_cleanse, which the optimiser may not elide
};

class Aead {
public:
    Aead();
    ~Aead();  // frees the context; OpenSSL clears the expanded key with it
    Aead(Aead &&) noexcept;
    Aead &operator=(Aead &&) noexcept;
    Aead(const Aead &) = delete;
    Aead &operator=(const Aead &) = delete;

    // Control path.  Sets the key once; `encrypt` fixes the direction, so
    // seal() works only on an encrypting and open() only on a decrypting
    // context.  The salt is copied; `km` may be wiped afterwards.  Returns
    // false on an unknown cipher or an OpenSSL failure (logged, without key
    // bytes).  May be called again to re-key.
    bool init(Cipher c, const KeyMaterial &km, bool encrypt);

    // Data path.  Encrypts `len` bytes under nonce salt || iv, authenticating
    // `aad` too, and writes the 16-byte tag.  out == in is allowed; any other
    // overlap is not.  False if not initialised for encryption, a length
    // exceeds INT_MAX, or OpenSSL fails.
    bool seal(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
              const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[kAeadTagLen]);

    // Data path.  Decrypts and verifies.  False on tag mismatch (the content
    // of `out` is then unspecified and must not be used) or the same errors
    // as seal().  A failure leaves the context usable for the next packet.
    bool open(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
              const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[kAeadTagLen]);

    Cipher cipher() const { return cipher_; }

private:
    // Per packet, before the payload: the nonce, the tag to check (open()
    // passes it, seal() passes nullptr) and the AAD.
    bool start(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len, size_t len,
               const uint8_t *expected_tag);

    EVP_CIPHER_CTX *ctx_ = nullptr;
    Cipher cipher_ = Cipher::aes256gcm;
    bool ready_ = false;    // init() succeeded
    bool encrypt_ = false;
    bool split_nonce_ = false;  // the provider holds the salt; open() passes only the IV (aead.cc)
    uint8_t salt_[kAeadSaltLen] = {};
};

}  // namespace lm
