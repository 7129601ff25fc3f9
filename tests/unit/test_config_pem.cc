// SPDX-License-Identifier: MIT
// Inline PEM blocks in [TLS] (lanmesh.conf(5) INLINE PEM): a one-file client
// configuration parses into the same Config as one with files, and every
// malformed block fails with the line that is wrong.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace lm {
namespace {

const std::string kPath = "/etc/lanmesh/office.conf";

// Lines 1-5; [TLS] starts at line 6.
const std::string kNetwork =
    "[Network]\n"
    "Role = client\n"
    "Server = 203.0.113.1\n"
    "ServerName = server\n"
    "\n";

const std::string kCert =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfzCCASWgAwIBAgIUb2ZmaWNlIENB\n"
    "  aGVsbG8gd29ybGQ+/w==\n"
    "-----END CERTIFICATE-----\n";
const std::string kKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----\n";

// The canonical text of a block: each line trimmed, LF endings.
const std::string kCertText =
    "-----BEGIN CERTIFICATE-----\nMIIBfzCCASWgAwIBAgIUb2ZmaWNlIENB\naGVsbG8gd29ybGQ+/w==\n-----END CERTIFICATE-----\n";

std::string error_of(const std::string &text) {
    ConfigError err;
    auto c = parse_config(text, kPath, &err);
    EXPECT_FALSE(c.has_value()) << "parsed although it should not:\n" << text;
    return err.message;
}

// A client whose [TLS] is `tls`, at line 6 on.
std::string client(const std::string &tls) { return kNetwork + "[TLS]\n" + tls; }

TEST(ConfigInlinePem, OneFileClient) {
    // Lines: 6 [TLS], 7 CA (4 lines), 11 Certificate (4), 15 Key (3).
    std::string text = client("CA = " + kCert + "Certificate = " + kCert + "Key = " + kKey);
    ConfigError err;
    auto c = parse_config(text, kPath, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->ca, kPath + ":7");
    EXPECT_EQ(c->certificate, kPath + ":11");
    EXPECT_EQ(c->key, kPath + ":15");
    EXPECT_EQ(c->ca_pem, kCertText);
    EXPECT_EQ(c->certificate_pem, kCertText);
    EXPECT_EQ(c->key_pem, kKey);
}

TEST(ConfigInlinePem, MixedWithFilesAndKeysAfter) {
    std::string text = client("CA = ca.crt\nCertificate = " + kCert + "Key = alice.key\nRemoteCertTls = no\n");
    ConfigError err;
    auto c = parse_config(text, kPath, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->ca, "/etc/lanmesh/ca.crt");
    EXPECT_EQ(c->ca_pem, "");
    EXPECT_EQ(c->certificate_pem, kCertText);
    EXPECT_EQ(c->key, "/etc/lanmesh/alice.key");
    EXPECT_FALSE(c->remote_cert_tls);
}

TEST(ConfigInlinePem, BundleAndChain) {
    // A CA bundle and a certificate with its intermediate: blocks that follow at once.
    std::string text = client("CA = " + kCert + kCert + "Certificate = " + kCert + kCert + "Key = " + kKey);
    ConfigError err;
    auto c = parse_config(text, kPath, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->ca_pem, kCertText + kCertText);
    EXPECT_EQ(c->certificate_pem, kCertText + kCertText);
    EXPECT_EQ(c->certificate, kPath + ":15");
}

TEST(ConfigInlinePem, CrLfFile) {
    std::string text = client("CA = " + kCert + "Certificate = " + kCert + "Key = " + kKey);
    std::string crlf;
    for (char ch : text) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    ConfigError err;
    auto c = parse_config(crlf, kPath, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->ca_pem, kCertText);
}

TEST(ConfigInlinePem, BadBlocks) {
    const std::string cert_rest = "Certificate = c.crt\nKey = k.key\n";
    // No END: the error points at the BEGIN line.
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\nMIIB\n")),
              kPath + ":7: the PEM block of CA has no -----END CERTIFICATE----- line");
    // The next key comes before END.
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\nMIIB\n" + cert_rest)),
              kPath + ":9: expected base64 (A-Z a-z 0-9 + / =) or -----END CERTIFICATE----- inside the PEM block "
                      "of CA (line 7), got 'Certificate = c.crt'");
    // END of another label.
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n")),
              kPath + ":9: expected -----END CERTIFICATE----- to close the PEM block of CA (line 7), got "
                      "'-----END PRIVATE KEY-----'");
    // Empty line, empty block, junk.
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\nMIIB\n\nMIIB\n")),
              kPath + ":9: empty line inside the PEM block of CA (line 7)");
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")),
              kPath + ":8: no base64 lines in the PEM block of CA (line 7)");
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\nMII B\n")),
              kPath + ":8: expected base64 (A-Z a-z 0-9 + / =) or -----END CERTIFICATE----- inside the PEM block "
                      "of CA (line 7), got 'MII B'");
    // A comment inside a block is not a comment.
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE-----\n# hi\n")),
              kPath + ":8: expected base64 (A-Z a-z 0-9 + / =) or -----END CERTIFICATE----- inside the PEM block "
                      "of CA (line 7), got '# hi'");
    // Wrong labels and malformed BEGIN lines.
    EXPECT_EQ(error_of(client("CA = " + kKey)),
              kPath + ":7: CA: expected -----BEGIN CERTIFICATE-----, got '-----BEGIN PRIVATE KEY-----'");
    EXPECT_EQ(error_of(client("CA = ca.crt\nCertificate = c.crt\nKey = " + kCert)),
              kPath + ":9: Key: expected -----BEGIN PRIVATE KEY----- (or EC PRIVATE KEY, RSA PRIVATE KEY), got "
                      "'-----BEGIN CERTIFICATE-----'");
    EXPECT_EQ(error_of(client("CA = -----BEGIN CERTIFICATE\n")),
              kPath + ":7: bad PEM line '-----BEGIN CERTIFICATE' for CA (expected -----BEGIN LABEL-----)");
    // Encrypted keys: the PKCS#8 label and the legacy header.
    EXPECT_EQ(error_of(client("CA = ca.crt\nCertificate = c.crt\nKey = -----BEGIN ENCRYPTED PRIVATE KEY-----\n")),
              kPath + ":9: Key: the key is encrypted; an unencrypted key is needed (openssl pkey -in KEY)");
    EXPECT_EQ(error_of(client("CA = ca.crt\nCertificate = c.crt\nKey = -----BEGIN EC PRIVATE KEY-----\n"
                              "Proc-Type: 4,ENCRYPTED\n")),
              kPath + ":10: PEM header 'Proc-Type: 4,ENCRYPTED' inside the PEM block of Key (line 9): an encrypted "
                      "key? an unencrypted key is needed");
    // One key only.
    EXPECT_EQ(error_of(client("CA = ca.crt\nCertificate = c.crt\nKey = " + kKey + kKey)),
              kPath + ":12: a second PEM block after the Key of line 9 (Key holds one private key)");
    // A block that ends and is not followed by a key, section or comment.
    EXPECT_EQ(error_of(client("CA = " + kCert + "MIIB\n")),
              kPath + ":11: expected 'Key = Value', a [Section] header or a comment, got 'MIIB'");
}

TEST(ConfigInlinePem, OnlyForCaCertificateAndKey) {
    EXPECT_EQ(error_of(client("CA = ca.crt\nCertificate = c.crt\nKey = k.key\nCRL = " + kCert)),
              kPath + ":10: CRL must name a file here (inline PEM blocks are for [TLS] CA, Certificate and Key)");
    std::string server =
        "[Network]\nRole = server\nPool = 198.18.0.0/24\n[TLS]\nCA = ca.crt\nCertificate = s.crt\nKey = s.key\n"
        "[Registry]\nEndpoint = https://192.0.2.5:2379\nCA = " + kCert;
    EXPECT_EQ(error_of(server),
              kPath + ":10: CA must name a file here (inline PEM blocks are for [TLS] CA, Certificate and Key)");
}

TEST(ConfigInlinePem, DuplicateKeyStillCaught) {
    EXPECT_EQ(error_of(client("CA = " + kCert + "CA = ca.crt\n")),
              kPath + ":11: duplicate key 'CA' in [TLS] (first at line 7)");
}

}  // namespace
}  // namespace lm
