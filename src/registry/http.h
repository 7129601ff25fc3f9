// SPDX-License-Identifier: MIT
// The HTTP/1.1 client the registry needs to speak to etcd's JSON gateway
// (docs/DESIGN.md §11): one POST per connection, a JSON body out, a JSON
// body back.  Nothing more of HTTP: no redirects, no keep-alive, no
// compression.  A response is parsed strictly and bounded in size, since an
// endpoint named in a config file is still a peer on the network.
//
// Blocking, with one deadline for the whole exchange: it runs on the
// registry's own thread (registry/registry_thread.h), never on the control
// thread or a data-plane worker.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_url.h"

namespace lm {

struct HttpResponse {
    int status = 0;
    std::string body;
};

// Incremental parser of one response.  A chunked body ends at its last chunk
// or, with stop_after_first_chunk (etcd's streaming calls, such as the lease
// keep-alive, answer with one chunk per request and keep the stream open), at
// its first.
class HttpResponseParser {
public:
    static constexpr size_t kMaxHead = 16 * 1024;
    static constexpr size_t kMaxBody = 4 * 1024 * 1024;

    enum class State { more, done, error };
    explicit HttpResponseParser(bool stop_after_first_chunk = false) : first_chunk_only_(stop_after_first_chunk) {}
    State feed(const char *p, size_t n);
    // The peer closed the connection: a body without a length ends here.
    State eof();
    const HttpResponse &response() const { return resp_; }
    const std::string &error() const { return err_; }

private:
    State parse();
    bool parse_head(std::string_view head);
    State fail(std::string why);

    enum class Body { none, length, chunked, until_close };
    bool first_chunk_only_;
    std::string buf_;          // bytes not yet consumed
    bool head_done_ = false;
    Body body_ = Body::none;
    size_t remaining_ = 0;     // length: body bytes still to come
    bool in_chunk_data_ = false;
    State state_ = State::more;
    HttpResponse resp_;
    std::string err_;
};

struct HttpClientTls {
    SSL_CTX *ctx = nullptr;  // verifies the server (CA) and may present a client certificate
};

// POSTs `body` (application/json) to url + path and reads the response,
// all within timeout_ms.  With tls.ctx, the connection is TLS and the
// server's certificate is checked against url.host.  false with *err (naming
// the host and what failed) when the exchange fails: name lookup, connect,
// TLS, timeout, a malformed response.  An HTTP error status is not a failure
// here: the caller reads resp->status.
bool http_post(const HttpUrl &url, std::string_view path, std::string_view body, int timeout_ms,
               const HttpClientTls &tls, bool stop_after_first_chunk, HttpResponse *resp, std::string *err);

}  // namespace lm
