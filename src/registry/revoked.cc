// SPDX-License-Identifier: MIT
#include "registry/revoked.h"

#include <openssl/bn.h>
#include <openssl/x509.h>

#include <cstdio>

namespace lm {

namespace {

std::string id_of(const ASN1_INTEGER *serial, X509_NAME *issuer) {
    if (!serial || !issuer) return "";
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, nullptr);
    if (!bn) return "";
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    if (!hex) return "";
    std::string s = hex;
    OPENSSL_free(hex);
    for (char &c : s)
        if (c >= 'A' && c <= 'F') c = char(c - 'A' + 'a');
    char h[16];
    std::snprintf(h, sizeof h, "%08lx", X509_NAME_hash_ex(issuer, nullptr, nullptr, nullptr));
    return s + "@" + h;
}

}  // namespace

std::string revoked_id(X509 *cert) {
    if (!cert) return "";
    return id_of(X509_get0_serialNumber(cert), X509_get_issuer_name(cert));
}

void revoked_in_store(X509_STORE *store, std::set<std::pair<std::string, std::string>> *out) {
    if (!store) return;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
        if (!crl) continue;
        X509_NAME *issuer = X509_CRL_get_issuer(crl);
        char name[256] = "";
        X509_NAME_oneline(issuer, name, sizeof name);
        STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
        for (int k = 0; k < sk_X509_REVOKED_num(rev); k++) {
            std::string id = id_of(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, k)), issuer);
            if (!id.empty()) out->insert({id, name});
        }
    }
}

bool valid_revoked_id(const std::string &s) {
    size_t at = s.find('@');
    if (at == std::string::npos || at == 0 || at > 64 || s.size() - at - 1 != 8) return false;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if (i == at) continue;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace lm
