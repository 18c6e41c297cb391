// SHA-256 (FIPS 180-4), incremental, so a download is hashed as its bytes arrive and a resumed download
// only re-reads the part it already had. Self-contained because the engine links no crypto library;
// tests check it against the FIPS example vectors and Qt's QCryptographicHash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace peregrine::download {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    // Finishes the hash: lowercase hex of the 32-byte digest. The object must not be updated afterwards.
    std::string hex_digest();

private:
    void compress(const uint8_t* block);  // one 64-byte block into state_

    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
};

// Whole-buffer convenience: lowercase hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace peregrine::download
