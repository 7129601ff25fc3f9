// SPDX-License-Identifier: MIT
// Aead against published vectors: RFC 8439 §2.8.2 and Appendix A.5
// (ChaCha20-Poly1305), GCM specification test cases 13 and 16 (AES-256-GCM,
// McGrew/Viega, "The Galois/Counter Mode of Operation").  Each vector's
// 12-byte nonce is split as salt(4) || IV(8), exactly as ESP builds it.
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "crypto/aead.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes unhex(const std::string &s) {
    Bytes out;
    for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(uint8_t(std::stoi(s.substr(i, 2), nullptr, 16)));
    return out;
}

KeyMaterial make_km(const std::string &key_hex, const std::string &salt_hex) {
    KeyMaterial km;
    Bytes k = unhex(key_hex), s = unhex(salt_hex);
    EXPECT_EQ(k.size(), sizeof km.key);
    EXPECT_EQ(s.size(), sizeof km.salt);
    std::memcpy(km.key, k.data(), sizeof km.key);
    std::memcpy(km.salt, s.data(), sizeof km.salt);
    return km;
}

struct Vector {
    Cipher cipher;
    std::string key, salt, iv, aad, plain, cipher_text, tag;
};

// RFC 8439 §2.8.2: key 80..9f, "32-bit fixed-common part" 07000000, IV 40..47.
const Vector kRfc8439 = {
    Cipher::chacha20poly1305,
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
    "07000000",
    "4041424344454647",
    "50515253c0c1c2c3c4c5c6c7",
    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
    "637265656e20776f756c642062652069742e",
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116",
    "1ae10b594f09e26a7e902ecbd0600691",
};

// GCM spec test case 16: AES-256, 60-byte plaintext, 20-byte AAD,
// IV cafebabefacedbaddecaf888.
const Vector kGcm16 = {
    Cipher::aes256gcm,
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    "cafebabe",
    "facedbaddecaf888",
    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    "76fc6ece0f4e1768cddf8853bb2d551b",
};

// GCM spec test case 13: AES-256, zero key and IV, no plaintext, no AAD.
const Vector kGcm13 = {
    Cipher::aes256gcm,
    std::string(64, '0'), "00000000", "0000000000000000", "", "", "",
    "530f8afbc74536b9a963b4f1c4cb738b",
};

Aead make(const Vector &v, bool encrypt) {
    Aead a;
    EXPECT_TRUE(a.init(v.cipher, make_km(v.key, v.salt), encrypt));
    return a;
}

void expect_seal(const Vector &v) {
    Aead a = make(v, true);
    Bytes iv = unhex(v.iv), aad = unhex(v.aad), pt = unhex(v.plain);
    Bytes out(pt.size()), tag(kAeadTagLen);
    ASSERT_TRUE(a.seal(iv.data(), aad.data(), aad.size(), pt.data(), pt.size(), out.data(), tag.data()));
    EXPECT_EQ(out, unhex(v.cipher_text));
    EXPECT_EQ(tag, unhex(v.tag));
    // In place gives the same bytes.
    ASSERT_TRUE(a.seal(iv.data(), aad.data(), aad.size(), pt.data(), pt.size(), pt.data(), tag.data()));
    EXPECT_EQ(pt, unhex(v.cipher_text));
    EXPECT_EQ(tag, unhex(v.tag));
}

void expect_open(const Vector &v) {
    Aead a = make(v, false);
    Bytes iv = unhex(v.iv), aad = unhex(v.aad), ct = unhex(v.cipher_text), tag = unhex(v.tag);
    Bytes out(ct.size());
    ASSERT_TRUE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
    EXPECT_EQ(out, unhex(v.plain));
    ASSERT_TRUE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), ct.data(), tag.data()));
    EXPECT_EQ(ct, unhex(v.plain));
}

TEST(Aead, ChaChaRfc8439Seal) { expect_seal(kRfc8439); }
TEST(Aead, ChaChaRfc8439Open) { expect_open(kRfc8439); }
TEST(Aead, AesGcmTestCase16Seal) { expect_seal(kGcm16); }
TEST(Aead, AesGcmTestCase16Open) { expect_open(kGcm16); }
TEST(Aead, AesGcmTestCase13EmptySeal) { expect_seal(kGcm13); }
TEST(Aead, AesGcmTestCase13EmptyOpen) { expect_open(kGcm13); }

// RFC 8439 Appendix A.5, a decryption example: nonce 00000000 || 0102..08.
TEST(Aead, ChaChaRfc8439AppendixA5Open) {
    Aead a;
    ASSERT_TRUE(a.init(Cipher::chacha20poly1305,
                       make_km("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
                               "00000000"),
                       false));
    Bytes ct = unhex(
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
        "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
        "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
        "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
        "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
        "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
        "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
        "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
        "a6ad5cb4022b02709b");
    Bytes iv = unhex("0102030405060708"), aad = unhex("f33388860000000000004e91");
    Bytes tag = unhex("eead9d67890cbb22392336fea1851f38");
    const std::string want =
        "Internet-Drafts are draft documents valid for a maximum of six months and may be "
        "updated, replaced, or obsoleted by other documents at any time. It is inappropriate "
        "to use Internet-Drafts as reference material or to cite them other than as "
        "/\xe2\x80\x9c" "work in progress./\xe2\x80\x9d";
    ASSERT_EQ(ct.size(), want.size());
    Bytes out(ct.size());
    ASSERT_TRUE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
    EXPECT_EQ(std::string(out.begin(), out.end()), want);
}

// Every single-bit change to ciphertext, tag, AAD or IV must be refused, and
// a refusal must leave the context usable and OpenSSL's error queue empty.
TEST(Aead, TamperingIsRefused) {
    for (const Vector *v : {&kRfc8439, &kGcm16}) {
        Aead a = make(*v, false);
        Bytes iv = unhex(v->iv), aad = unhex(v->aad), ct = unhex(v->cipher_text), tag = unhex(v->tag);
        Bytes out(ct.size());
        auto try_open = [&] {
            return a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data());
        };
        for (Bytes *field : {&iv, &aad, &ct, &tag}) {
            for (size_t i = 0; i < field->size(); i++) {
                (*field)[i] ^= 0x01;
                EXPECT_FALSE(try_open()) << "byte " << i;
                (*field)[i] ^= 0x01;
            }
        }
        EXPECT_EQ(ERR_peek_error(), 0u);
        ASSERT_TRUE(try_open());
        EXPECT_EQ(out, unhex(v->plain));
    }
}

// The key is scheduled once; each packet only changes the IV.  Many packets
// through one context must match fresh contexts, in both directions.
TEST(Aead, ContextReuseAcrossIvs) {
    for (Cipher c : {Cipher::aes256gcm, Cipher::chacha20poly1305}) {
        KeyMaterial km = make_km(std::string(62, '3') + "7f", "a1b2c3d4");
        Aead enc, dec;
        ASSERT_TRUE(enc.init(c, km, true));
        ASSERT_TRUE(dec.init(c, km, false));
        uint8_t aad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        for (uint8_t n = 1; n <= 5; n++) {
            uint8_t iv[8] = {0, 0, 0, 0, 0, 0, 0, n};
            Bytes pt(100 + n, n), ct(pt.size()), ct2(pt.size()), back(pt.size());
            uint8_t tag[16], tag2[16];
            ASSERT_TRUE(enc.seal(iv, aad, 8, pt.data(), pt.size(), ct.data(), tag));
            Aead fresh;
            ASSERT_TRUE(fresh.init(c, km, true));
            ASSERT_TRUE(fresh.seal(iv, aad, 8, pt.data(), pt.size(), ct2.data(), tag2));
            EXPECT_EQ(ct, ct2);
            EXPECT_EQ(0, std::memcmp(tag, tag2, 16));
            ASSERT_TRUE(dec.open(iv, aad, 8, ct.data(), ct.size(), back.data(), tag));
            EXPECT_EQ(back, pt);
        }
    }
}

TEST(Aead, WrongKeyOrSaltIsRefused) {
    KeyMaterial km = make_km(kGcm16.key, kGcm16.salt);
    Bytes iv = unhex(kGcm16.iv), aad = unhex(kGcm16.aad), ct = unhex(kGcm16.cipher_text),
          tag = unhex(kGcm16.tag), out(ct.size());
    KeyMaterial other = km;
    other.key[31] ^= 0x80;
    Aead a;
    ASSERT_TRUE(a.init(Cipher::aes256gcm, other, false));
    EXPECT_FALSE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
    other = km;
    other.salt[0] ^= 0x01;
    ASSERT_TRUE(a.init(Cipher::aes256gcm, other, false));  // re-key the same object
    EXPECT_FALSE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
    ASSERT_TRUE(a.init(Cipher::chacha20poly1305, km, false));  // right key, wrong cipher
    EXPECT_FALSE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
    ASSERT_TRUE(a.init(Cipher::aes256gcm, km, false));
    EXPECT_TRUE(a.open(iv.data(), aad.data(), aad.size(), ct.data(), ct.size(), out.data(), tag.data()));
}

TEST(Aead, MisuseFailsCleanly) {
    KeyMaterial km = make_km(kGcm16.key, kGcm16.salt);
    uint8_t iv[8] = {}, buf[32] = {}, tag[16] = {};
    Aead none;  // never initialised
    EXPECT_FALSE(none.seal(iv, nullptr, 0, buf, sizeof buf, buf, tag));
    EXPECT_FALSE(none.open(iv, nullptr, 0, buf, sizeof buf, buf, tag));
    Aead enc, dec;
    ASSERT_TRUE(enc.init(Cipher::aes256gcm, km, true));
    ASSERT_TRUE(dec.init(Cipher::aes256gcm, km, false));
    EXPECT_FALSE(enc.open(iv, nullptr, 0, buf, sizeof buf, buf, tag));  // wrong direction
    EXPECT_FALSE(dec.seal(iv, nullptr, 0, buf, sizeof buf, buf, tag));
    EXPECT_FALSE(enc.seal(iv, nullptr, 0, buf, size_t(1) << 31, buf, tag));  // > INT_MAX
    EXPECT_FALSE(enc.init(static_cast<Cipher>(99), km, true));
    EXPECT_FALSE(enc.seal(iv, nullptr, 0, buf, sizeof buf, buf, tag));  // failed init disarms
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(Aead, MoveKeepsTheKey) {
    Aead a = make(kGcm16, true);
    EXPECT_EQ(a.cipher(), Cipher::aes256gcm);
    Aead b(std::move(a));
    Bytes iv = unhex(kGcm16.iv), aad = unhex(kGcm16.aad), pt = unhex(kGcm16.plain);
    Bytes out(pt.size()), tag(16);
    EXPECT_FALSE(a.seal(iv.data(), aad.data(), aad.size(), pt.data(), pt.size(), out.data(), tag.data()));
    Aead c = make(kRfc8439, true);
    c = std::move(b);
    EXPECT_EQ(c.cipher(), Cipher::aes256gcm);
    ASSERT_TRUE(c.seal(iv.data(), aad.data(), aad.size(), pt.data(), pt.size(), out.data(), tag.data()));
    EXPECT_EQ(out, unhex(kGcm16.cipher_text));
    EXPECT_EQ(tag, unhex(kGcm16.tag));
}

// A decrypting AES-GCM context keeps the salt in OpenSSL's context and
// passes only the IV per packet; a ChaCha20-Poly1305 one sets the whole
// nonce.  Moving an Aead, also onto one of the other cipher, must keep its
// own way.  Each open uses a new IV, so a nonce left over from the previous
// packet cannot pass.
TEST(Aead, MoveKeepsTheKeyForOpen) {
    for (Cipher cipher : {Cipher::aes256gcm, Cipher::chacha20poly1305}) {
        const Cipher other = cipher == Cipher::aes256gcm ? Cipher::chacha20poly1305 : Cipher::aes256gcm;
        KeyMaterial km = make_km(std::string(62, '5') + "a1", "0badf00d");
        Aead enc, a, c;
        ASSERT_TRUE(enc.init(cipher, km, true));
        ASSERT_TRUE(a.init(cipher, km, false));
        ASSERT_TRUE(c.init(other, km, false));
        uint8_t aad[8] = {0, 0, 0x10, 0, 0, 0, 0, 1};
        Bytes pt(77, 0x5a), ct[3], tag[3];
        uint8_t iv[3][8] = {{0, 0, 0, 0, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 2}, {0, 0, 0, 0, 0, 0, 0, 3}};
        for (int i = 0; i < 3; i++) {
            ct[i].resize(pt.size());
            tag[i].resize(kAeadTagLen);
            ASSERT_TRUE(enc.seal(iv[i], aad, sizeof aad, pt.data(), pt.size(), ct[i].data(), tag[i].data()));
        }
        Bytes out(pt.size());
        auto open = [&](Aead &x, int i) {
            return x.open(iv[i], aad, sizeof aad, ct[i].data(), ct[i].size(), out.data(), tag[i].data());
        };
        ASSERT_TRUE(open(a, 0));
        Aead b(std::move(a));
        EXPECT_FALSE(open(a, 1));
        ASSERT_TRUE(open(b, 1));
        EXPECT_EQ(out, pt);
        c = std::move(b);
        EXPECT_EQ(c.cipher(), cipher);
        ASSERT_TRUE(open(c, 2));
        EXPECT_EQ(out, pt);
        ASSERT_TRUE(open(c, 0));  // an older IV too: the nonce is set, not stepped
        EXPECT_EQ(out, pt);
    }
}

TEST(Aead, KeyMaterialWipe) {
    KeyMaterial km = make_km(kGcm16.key, kGcm16.salt);
    km.wipe();
    for (uint8_t b : km.key) EXPECT_EQ(b, 0);
    for (uint8_t b : km.salt) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace lm
