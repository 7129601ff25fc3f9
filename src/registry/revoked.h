// SPDX-License-Identifier: MIT
// Revocation shared between the servers of one network (docs/DESIGN.md §11):
// a server that loads a CRL writes every certificate it revokes to etcd as
//   P revoked/<serial>@<issuer hash>  ->  issuer name (for people)
// and every server cuts, and refuses from then on, a node whose certificate
// is listed there, whether or not its own CRL file says so yet.  The serial
// is lower-case hex; the issuer hash is OpenSSL's subject name hash (as in
// `openssl x509 -issuer_hash`), 8 hex digits: serials are unique per CA only.
#pragma once
#include <openssl/ssl.h>

#include <set>
#include <string>

namespace lm {

// "<serial>@<issuer hash>" of a certificate; "" when it has none.
std::string revoked_id(X509 *cert);
// Every revoked entry of every CRL in the store, as ids, with the issuer's
// name for each (id -> name).
void revoked_in_store(X509_STORE *store, std::set<std::pair<std::string, std::string>> *out);
// Whether s is an id as revoked_id() writes it (keys others wrote are input).
bool valid_revoked_id(const std::string &s);

}  // namespace lm
