// The NAME.part file a download writes into: opened for appending, locked so two processes cannot
// interleave bytes into it, and renamed to its final name only by the caller, after verification.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "download/sha256.h"

namespace peregrine::download {

class PartFile {
public:
    // Creates or opens the file and takes an exclusive lock; throws DownloadError{Filesystem} when it
    // cannot, or when another process holds the lock.
    explicit PartFile(std::filesystem::path path);
    ~PartFile();
    PartFile(const PartFile&) = delete;
    PartFile& operator=(const PartFile&) = delete;

    const std::filesystem::path& path() const { return path_; }
    uint64_t size() const { return size_; }

    // Appends; throws DownloadError{DiskFull} on ENOSPC, {Filesystem} on other errors.
    void append(const char* data, size_t n);
    // Drops everything written so far (the server ignored the Range request, or the part is stale).
    void clear();
    // Feeds the bytes already in the file to `hash`; `progress(bytes_hashed)` is called every few MiB and
    // returns false to stop early (cancel), in which case this returns false.
    bool hash_existing(Sha256& hash, const std::function<bool(uint64_t)>& progress) const;
    // Flushes to disk, so the rename that follows never exposes a file whose bytes are still in flight.
    void sync();
    // Closes and deletes the file.
    void remove();

private:
    std::filesystem::path path_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

// Bytes free for an unprivileged user in the filesystem holding `dir` (statvfs f_bavail).
uint64_t free_disk_bytes(const std::filesystem::path& dir);

}  // namespace peregrine::download
