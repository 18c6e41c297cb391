#include "download/part_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "peregrine/download.h"

namespace peregrine::download {
namespace {

[[noreturn]] void fail(DownloadError::Kind kind, std::string_view what, const std::filesystem::path& path, int err) {
    throw DownloadError(kind, fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

}  // namespace

PartFile::PartFile(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(DownloadError::Kind::Filesystem, "cannot open", path_, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK) {
            throw DownloadError(DownloadError::Kind::Filesystem,
                                fmt::format("{} is being downloaded by another process", path_.string()));
        }
        fail(DownloadError::Kind::Filesystem, "cannot lock", path_, err);
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(DownloadError::Kind::Filesystem, "cannot stat", path_, errno);
    size_ = uint64_t(st.st_size);
}

PartFile::~PartFile() {
    if (fd_ >= 0) ::close(fd_);  // also releases the lock
}

void PartFile::append(const char* data, size_t n) {
    while (n > 0) {
        const ssize_t written = ::write(fd_, data, n);
        if (written < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            fail(err == ENOSPC || err == EDQUOT ? DownloadError::Kind::DiskFull : DownloadError::Kind::Filesystem,
                 "cannot write", path_, err);
        }
        data += written;
        n -= size_t(written);
        size_ += uint64_t(written);
    }
}

void PartFile::clear() {
    if (::ftruncate(fd_, 0) != 0) fail(DownloadError::Kind::Filesystem, "cannot truncate", path_, errno);
    size_ = 0;
}

bool PartFile::hash_existing(Sha256& hash, const std::function<bool(uint64_t)>& progress) const {
    std::vector<char> buffer(size_t(4) << 20);
    uint64_t offset = 0;
    while (offset < size_) {
        const size_t want = size_t(std::min<uint64_t>(buffer.size(), size_ - offset));
        const ssize_t got = ::pread(fd_, buffer.data(), want, off_t(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) fail(DownloadError::Kind::Filesystem, "cannot read", path_, got < 0 ? errno : EIO);
        hash.update(buffer.data(), size_t(got));
        offset += uint64_t(got);
        if (progress && !progress(offset)) return false;
    }
    return true;
}

void PartFile::sync() {
    if (::fsync(fd_) != 0) fail(DownloadError::Kind::Filesystem, "cannot flush", path_, errno);
}

void PartFile::remove() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
}

uint64_t free_disk_bytes(const std::filesystem::path& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) fail(DownloadError::Kind::Filesystem, "cannot query free space of", dir, errno);
    return uint64_t(st.f_bavail) * uint64_t(st.f_frsize);
}

}  // namespace peregrine::download
