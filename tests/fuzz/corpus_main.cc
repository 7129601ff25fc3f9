// SPDX-License-Identifier: MIT
// The main() a fuzz target gets when it is built without libFuzzer (g++,
// `make check`, `make check-asan`): runs LLVMFuzzerTestOneInput once on every file of the
// directories and files named on the command line, in name order, and fails
// if any input crashes (the sanitizers abort) or there is no input at all.
//
//   build/release/fuzz/config tests/fuzz/corpus/config
//
// Each input is copied into a heap block of exactly its size, as libFuzzer
// does, so ASan sees a read one byte past the end.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) && __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#define LM_HAVE_DEATH_CALLBACK 1
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

std::string g_current;   // the input being run, named when a sanitizer aborts

#ifdef LM_HAVE_DEATH_CALLBACK
void name_culprit() { std::fprintf(stderr, "corpus_main: crashed on %s\n", g_current.c_str()); }
#endif

// A broken fuzz invariant aborts without the sanitizers' death callback.
void on_abort(int sig) {
    const char *p = g_current.c_str();
    const char msg[] = "corpus_main: aborted on ";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    ignored = write(2, p, std::strlen(p));
    ignored = write(2, "\n", 1);
    (void)ignored;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

bool read_file(const std::string &path, std::vector<char> *out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return !f.bad();
}

}  // namespace

int main(int argc, char **argv) {
#ifdef LM_HAVE_DEATH_CALLBACK
    __sanitizer_set_death_callback(name_culprit);
#endif
    std::signal(SIGABRT, on_abort);
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            std::vector<std::string> here;
            for (const auto &e : fs::directory_iterator(argv[i], ec))
                if (e.is_regular_file()) here.push_back(e.path().string());
            if (ec) {
                std::fprintf(stderr, "corpus_main: %s: %s\n", argv[i], ec.message().c_str());
                return 1;
            }
            std::sort(here.begin(), here.end());
            files.insert(files.end(), here.begin(), here.end());
        } else {
            files.push_back(argv[i]);
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "corpus_main: no inputs (usage: %s DIR|FILE...)\n", argv[0]);
        return 1;
    }
    for (const auto &path : files) {
        std::vector<char> bytes;
        if (!read_file(path, &bytes)) {
            std::fprintf(stderr, "corpus_main: cannot read %s\n", path.c_str());
            return 1;
        }
        g_current = path;
        std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
        if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
        LLVMFuzzerTestOneInput(exact.get(), bytes.size());
    }
    std::printf("%s: %zu inputs, no crash\n", argv[0], files.size());
    return 0;
}
