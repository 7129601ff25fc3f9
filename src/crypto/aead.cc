// SPDX-License-Identifier: MIT
// OpenSSL EVP wrapper for the two ESP AEADs.  The cipher is fetched once per
// process and the key is scheduled once per SA; per packet only the nonce and
// the tag go in and out.
//
// Besides the cipher itself, what a packet costs is OpenSSL 3.0's parameter
// machinery: a provider's get/set_ctx_params looks up every parameter it knows
// by string compare, whatever the caller passed.  EVP_CipherInit_ex2 with an
// IV pays that once (3.0 drops the context's cached IV length on every init
// and asks the provider again) and the tag once more.  bench/README.md has the
// numbers behind the choices below:
//  - the tag goes through EVP_CIPHER_CTX_get/set_params, not
//    EVP_CIPHER_CTX_ctrl, which builds the same request on top of a switch and
//    a zeroed four-entry array;
//  - AES-GCM open() does no init per packet.  The salt is handed to the
//    provider once, as the fixed field of a GCM nonce, and each packet sets
//    only its 8-byte invocation field (RFC 5116 §3.2, which is RFC 4106's
//    salt || IV), in the same set_params call as the tag.  OpenSSL takes the
//    invocation field from the caller only when decrypting (encrypting, it
//    draws it itself), and ChaCha20-Poly1305 has no such parameter, so seal()
//    and ChaCha20-Poly1305 keep EVP_CipherInit_ex2 with the whole nonce.
// There is no settable IV parameter in OpenSSL 3.0 ("iv" can only be read),
// and Final is no formality: it computes the tag, or compares it in constant
// time (CRYPTO_memcmp) with the one set before.  open() must never reach Final
// without having set this packet's tag: ChaCha20-Poly1305 would compare with
// the previous packet's, or with zero bytes on a fresh context.
#include "crypto/aead.h"

#include <climits>
#include <cstring>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/log.h"

namespace lm {

namespace {

constexpr size_t kNonceLen = kAeadSaltLen + kEspIvLen;  // 12, OpenSSL's default for both

// Explicit fetches are looked up once: implicit lookups (EVP_aes_256_gcm())
// cost a provider query under a lock on every init.  The references live for
// the whole process, so they are never freed.
const EVP_CIPHER *fetch(Cipher c) {
    static EVP_CIPHER *const aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    static EVP_CIPHER *const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    switch (c) {
    case Cipher::aes256gcm: return aes;
    case Cipher::chacha20poly1305: return chacha;
    }
    return nullptr;
}

// OSSL_PARAM_construct_octet_string is a library call per packet for what is
// five stores.  The const_cast is for inputs: OpenSSL only reads the data of
// a parameter it is given to set.
OSSL_PARAM octets(const char *key, const void *data, size_t len) {
    return OSSL_PARAM_octet_string(key, const_cast<void *>(data), len);
}

}  // namespace

void KeyMaterial::wipe() { OPENSSL_cleanse(this, sizeof *this); }

Aead::Aead() = default;

Aead::~Aead() {
    EVP_CIPHER_CTX_free(ctx_);
    OPENSSL_cleanse(salt_, sizeof salt_);
}

Aead::Aead(Aead &&o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)), cipher_(o.cipher_),
      ready_(std::exchange(o.ready_, false)), encrypt_(o.encrypt_), split_nonce_(o.split_nonce_) {
    std::memcpy(salt_, o.salt_, sizeof salt_);
    OPENSSL_cleanse(o.salt_, sizeof o.salt_);
}

Aead &Aead::operator=(Aead &&o) noexcept {
    if (this != &o) {
        EVP_CIPHER_CTX_free(ctx_);
        ctx_ = std::exchange(o.ctx_, nullptr);
        cipher_ = o.cipher_;
        ready_ = std::exchange(o.ready_, false);
        encrypt_ = o.encrypt_;
        split_nonce_ = o.split_nonce_;
        std::memcpy(salt_, o.salt_, sizeof salt_);
        OPENSSL_cleanse(o.salt_, sizeof o.salt_);
    }
    return *this;
}

bool Aead::init(Cipher c, const KeyMaterial &km, bool encrypt) {
    ready_ = false;
    split_nonce_ = false;
    if (ctx_) EVP_CIPHER_CTX_reset(ctx_);  // drops any previous key schedule
    OPENSSL_cleanse(salt_, sizeof salt_);
    const EVP_CIPHER *cipher = fetch(c);
    if (!cipher) {
        LM_ERR("aead: cipher %u is unknown or not provided by OpenSSL", unsigned(c));
        return false;
    }
    // The RFCs fix these sizes; a provider disagreeing would corrupt memory.
    if (EVP_CIPHER_get_key_length(cipher) != int(kAeadKeyLen) ||
        EVP_CIPHER_get_iv_length(cipher) != int(kNonceLen)) {
        LM_ERR("aead: cipher %u has unexpected key or IV length", unsigned(c));
        return false;
    }
    if (!ctx_) ctx_ = EVP_CIPHER_CTX_new();
    if (!ctx_ || EVP_CipherInit_ex2(ctx_, cipher, km.key, nullptr, encrypt ? 1 : 0, nullptr) != 1) {
        ERR_clear_error();
        LM_ERR("aead: cannot set up cipher %u", unsigned(c));
        return false;
    }
    if (c == Cipher::aes256gcm && !encrypt) {
        // set_params ignores names a provider does not know, so its success
        // alone would not show that the per-packet invocation field is heard.
        // Without both names (another provider) the whole nonce per packet
        // works everywhere.
        const OSSL_PARAM *settable = EVP_CIPHER_CTX_settable_params(ctx_);
        OSSL_PARAM fixed[] = {octets(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, km.salt, kAeadSaltLen),
                              OSSL_PARAM_END};
        split_nonce_ = OSSL_PARAM_locate_const(settable, OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED) &&
                       OSSL_PARAM_locate_const(settable, OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV) &&
                       EVP_CIPHER_CTX_set_params(ctx_, fixed) == 1;
        if (!split_nonce_) {
            ERR_clear_error();
            LM_DEBUG("aead: provider takes no GCM fixed field, setting the whole nonce per packet");
        }
    }
    std::memcpy(salt_, km.salt, sizeof salt_);
    cipher_ = c;
    encrypt_ = encrypt;
    ready_ = true;
    return true;
}

bool Aead::start(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len, size_t len,
                 const uint8_t *expected_tag) {
    if (!ready_ || len > size_t(INT_MAX) || aad_len > size_t(INT_MAX)) return false;
    OSSL_PARAM params[3] = {OSSL_PARAM_END, OSSL_PARAM_END, OSSL_PARAM_END};
    OSSL_PARAM *p = params;
    if (expected_tag) *p++ = octets(OSSL_CIPHER_PARAM_AEAD_TAG, expected_tag, kAeadTagLen);
    if (split_nonce_) {
        // Sets the nonce and resets the GHASH state, as an init would.
        *p++ = octets(OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, iv, kEspIvLen);
    } else {
        uint8_t nonce[kNonceLen];
        std::memcpy(nonce, salt_, kAeadSaltLen);
        std::memcpy(nonce + kAeadSaltLen, iv, kEspIvLen);
        if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, -1, nullptr) != 1) return false;
    }
    if (p != params && EVP_CIPHER_CTX_set_params(ctx_, params) != 1) return false;
    int n = 0;
    return aad_len == 0 || EVP_CipherUpdate(ctx_, nullptr, &n, aad, int(aad_len)) == 1;
}

bool Aead::seal(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[kAeadTagLen]) {
    uint8_t scratch[16];  // Final writes nothing for these stream-like modes
    int n = 0;
    OSSL_PARAM get_tag[] = {octets(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagLen), OSSL_PARAM_END};
    bool ok = encrypt_ && start(iv, aad, aad_len, len, nullptr) &&
              (len == 0 || EVP_EncryptUpdate(ctx_, out, &n, in, int(len)) == 1) &&
              EVP_EncryptFinal_ex(ctx_, scratch, &n) == 1 &&
              EVP_CIPHER_CTX_get_params(ctx_, get_tag) == 1;
    if (!ok) ERR_clear_error();  // keep the thread's error queue from filling up
    return ok;
}

bool Aead::open(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[kAeadTagLen]) {
    uint8_t scratch[16];
    int n = 0;
    // start() sets the tag; DecryptFinal compares it in constant time.
    bool ok = !encrypt_ && start(iv, aad, aad_len, len, tag) &&
              (len == 0 || EVP_DecryptUpdate(ctx_, out, &n, in, int(len)) == 1) &&
              EVP_DecryptFinal_ex(ctx_, scratch, &n) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

}  // namespace lm
