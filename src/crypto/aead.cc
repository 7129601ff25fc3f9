// OpenSSL EVP wrapper for the two ESP AEADs.  The cipher is fetched once per
// process and the key is scheduled once per SA; per packet only the 12-byte
// nonce is set (EVP_CipherInit_ex2 with no cipher and no key keeps both).
#include "crypto/aead.h"

#include <climits>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

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

}  // namespace

void KeyMaterial::wipe() { OPENSSL_cleanse(this, sizeof *this); }

Aead::Aead() = default;

Aead::~Aead() {
    EVP_CIPHER_CTX_free(ctx_);
    OPENSSL_cleanse(salt_, sizeof salt_);
}

Aead::Aead(Aead &&o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)), cipher_(o.cipher_),
      ready_(std::exchange(o.ready_, false)), encrypt_(o.encrypt_) {
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
        std::memcpy(salt_, o.salt_, sizeof salt_);
        OPENSSL_cleanse(o.salt_, sizeof o.salt_);
    }
    return *this;
}

bool Aead::init(Cipher c, const KeyMaterial &km, bool encrypt) {
    ready_ = false;
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
    std::memcpy(salt_, km.salt, sizeof salt_);
    cipher_ = c;
    encrypt_ = encrypt;
    ready_ = true;
    return true;
}

// Per packet: new nonce, then the AAD (an update with no output buffer).
bool Aead::start(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len, size_t len) {
    if (!ready_ || len > size_t(INT_MAX) || aad_len > size_t(INT_MAX)) return false;
    uint8_t nonce[kNonceLen];
    std::memcpy(nonce, salt_, kAeadSaltLen);
    std::memcpy(nonce + kAeadSaltLen, iv, kEspIvLen);
    if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, -1, nullptr) != 1) return false;
    int n = 0;
    return aad_len == 0 || EVP_CipherUpdate(ctx_, nullptr, &n, aad, int(aad_len)) == 1;
}

bool Aead::seal(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[kAeadTagLen]) {
    uint8_t scratch[16];  // Final writes nothing for these stream-like modes
    int n = 0;
    bool ok = encrypt_ && start(iv, aad, aad_len, len) &&
              (len == 0 || EVP_EncryptUpdate(ctx_, out, &n, in, int(len)) == 1) &&
              EVP_EncryptFinal_ex(ctx_, scratch, &n) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, int(kAeadTagLen), tag) == 1;
    if (!ok) ERR_clear_error();  // keep the thread's error queue from filling up
    return ok;
}

bool Aead::open(const uint8_t iv[kEspIvLen], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[kAeadTagLen]) {
    uint8_t scratch[16];
    int n = 0;
    // OpenSSL compares the tag in constant time inside DecryptFinal.
    bool ok = !encrypt_ && start(iv, aad, aad_len, len) &&
              EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, int(kAeadTagLen),
                                  const_cast<uint8_t *>(tag)) == 1 &&
              (len == 0 || EVP_DecryptUpdate(ctx_, out, &n, in, int(len)) == 1) &&
              EVP_DecryptFinal_ex(ctx_, scratch, &n) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

}  // namespace lm
