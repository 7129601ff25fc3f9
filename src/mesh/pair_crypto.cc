// SPDX-License-Identifier: MIT
#include "mesh/pair_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include <cstring>

#include "common/bytes.h"

namespace lm {

PkeyPtr x25519_generate(X25519Pub *pub) {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    size_t len = pub->size();
    if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub->data(), &len) != 1 || len != 32) {
        ERR_clear_error();
        return nullptr;
    }
    return key;
}

static void put_name(std::vector<uint8_t> *v, const std::string &s) {
    v->push_back(uint8_t(s.size()));
    v->insert(v->end(), s.begin(), s.end());
}

std::vector<uint8_t> peer_key_transcript(uint64_t intro_id, const std::string &sender,
                                         const std::string &receiver, uint32_t epoch,
                                         const X25519Pub &pub, uint32_t spi, Cipher cipher,
                                         bool answer) {
    static const char label[] = "lanmesh pair key v1";
    std::vector<uint8_t> v(label, label + sizeof label);   // with the NUL: a separator
    uint8_t b[8];
    store_be64(b, intro_id);
    v.insert(v.end(), b, b + 8);
    put_name(&v, sender);
    put_name(&v, receiver);
    store_be32(b, epoch);
    v.insert(v.end(), b, b + 4);
    v.insert(v.end(), pub.begin(), pub.end());
    store_be32(b, spi);
    v.insert(v.end(), b, b + 4);
    store_be16(b, uint16_t(cipher));
    v.insert(v.end(), b, b + 2);
    v.push_back(answer ? 1 : 0);
    return v;
}

// Ed25519/Ed448 keys sign the message itself; EC and RSA keys sign a SHA-256
// digest.  Certificates from easy-rsa and the openssl command are EC or RSA.
static const EVP_MD *digest_for(EVP_PKEY *k) {
    int id = EVP_PKEY_get_base_id(k);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

bool sign_with(EVP_PKEY *key, const std::vector<uint8_t> &data, std::vector<uint8_t> *sig) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, digest_for(key), nullptr, key) == 1 &&
              EVP_DigestSign(ctx, nullptr, &len, data.data(), data.size()) == 1;
    if (ok) {
        sig->resize(len);
        ok = EVP_DigestSign(ctx, sig->data(), &len, data.data(), data.size()) == 1;
        sig->resize(len);
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

bool verify_with(X509 *cert, const std::vector<uint8_t> &data, const std::vector<uint8_t> &sig) {
    EVP_PKEY *key = X509_get0_pubkey(cert);
    if (!key) return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, digest_for(key), nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, sig.data(), sig.size(), data.data(), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

X509Ptr verify_peer_cert(X509_STORE *store, const std::vector<uint8_t> &der, const std::string &name,
                         std::string *why) {
    const unsigned char *p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
    if (!cert || p != der.data() + der.size()) {
        *why = "unparsable certificate";
        ERR_clear_error();
        return nullptr;
    }
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
    if (name != cn) {
        *why = std::string("certificate is for '") + cn + "'";
        return nullptr;
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = ctx && X509_STORE_CTX_init(ctx, store, cert.get(), nullptr) == 1 &&
              X509_STORE_CTX_set_default(ctx, "ssl_client") == 1;
    if (ok) ok = X509_verify_cert(ctx) == 1;
    if (!ok) *why = ctx ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)) : "out of memory";
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok ? std::move(cert) : nullptr;
}

void PairKeys::wipe() {
    lo_to_hi.wipe();
    hi_to_lo.wipe();
    OPENSSL_cleanse(probe, sizeof probe);
}

bool derive_pair_keys(EVP_PKEY *mine, const X25519Pub &theirs, uint64_t intro_id, uint32_t epoch,
                      Cipher cipher, const std::string &name_lo, const std::string &name_hi,
                      const X25519Pub &pub_lo, const X25519Pub &pub_hi, PairKeys *out) {
    PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, theirs.data(), theirs.size()));
    uint8_t shared[32];
    size_t slen = sizeof shared;
    EVP_PKEY_CTX *dctx = peer ? EVP_PKEY_CTX_new(mine, nullptr) : nullptr;
    bool ok = dctx && EVP_PKEY_derive_init(dctx) == 1 && EVP_PKEY_derive_set_peer(dctx, peer.get()) == 1 &&
              EVP_PKEY_derive(dctx, shared, &slen) == 1 && slen == 32;
    EVP_PKEY_CTX_free(dctx);
    // The all-zero output of a low-order point would make the keys public.
    static const uint8_t zero[32] = {};
    if (ok && CRYPTO_memcmp(shared, zero, 32) == 0) ok = false;

    // info binds the keys to this introduction, epoch, cipher and both keys.
    std::vector<uint8_t> info;
    static const char label[] = "lanmesh pair esp v1";
    info.insert(info.end(), label, label + sizeof label);
    uint8_t b[8];
    store_be64(b, intro_id);
    info.insert(info.end(), b, b + 8);
    store_be32(b, epoch);
    info.insert(info.end(), b, b + 4);
    store_be16(b, uint16_t(cipher));
    info.insert(info.end(), b, b + 2);
    put_name(&info, name_lo);
    put_name(&info, name_hi);
    info.insert(info.end(), pub_lo.begin(), pub_lo.end());
    info.insert(info.end(), pub_hi.begin(), pub_hi.end());

    uint8_t okm[36 + 36 + 32];
    if (ok) {
        EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
        EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, 32),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
            OSSL_PARAM_construct_end()};
        ok = kctx && EVP_KDF_derive(kctx, okm, sizeof okm, params) == 1;
        EVP_KDF_CTX_free(kctx);
        EVP_KDF_free(kdf);
    }
    if (ok) {
        std::memcpy(out->lo_to_hi.key, okm, 32);
        std::memcpy(out->lo_to_hi.salt, okm + 32, 4);
        std::memcpy(out->hi_to_lo.key, okm + 36, 32);
        std::memcpy(out->hi_to_lo.salt, okm + 68, 4);
        std::memcpy(out->probe, okm + 72, 32);
    }
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(okm, sizeof okm);
    ERR_clear_error();
    return ok;
}

}  // namespace lm
