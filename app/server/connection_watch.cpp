#include "server/connection_watch.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <utility>

namespace peregrine::server {
namespace {

// "127.0.0.1" and the port of a socket address, as httplib formats them (getnameinfo, numeric).
bool numeric_address(const sockaddr_storage& addr, socklen_t len, std::string& host, int& port) {
    char buf[NI_MAXHOST];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST) != 0) {
        return false;
    }
    host = buf;
    if (addr.ss_family == AF_INET) {
        port = ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
    } else if (addr.ss_family == AF_INET6) {
        port = ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
    } else {
        return false;
    }
    return true;
}

bool socket_matches(int fd, const std::string& local_addr, int local_port, const std::string& remote_addr,
                    int remote_port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    std::string host;
    int port = 0;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    if (!numeric_address(addr, len, host, port) || port != remote_port || host != remote_addr) return false;
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    return numeric_address(addr, len, host, port) && port == local_port && host == local_addr;
}

}  // namespace

ConnectionWatch::ConnectionWatch(std::string local_addr, int local_port, std::string remote_addr, int remote_port)
    : local_addr_(std::move(local_addr)),
      remote_addr_(std::move(remote_addr)),
      local_port_(local_port),
      remote_port_(remote_port) {}

int ConnectionWatch::find_socket() const {
    if (local_port_ <= 0 || remote_port_ <= 0) return -1;
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return -1;
    int found = -1;
    while (const dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
        struct stat st {};
        if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        if (socket_matches(static_cast<int>(fd), local_addr_, local_port_, remote_addr_, remote_port_)) {
            found = static_cast<int>(fd);
            break;
        }
    }
    closedir(dir);
    return found;
}

bool ConnectionWatch::peer_closed() {
    if (!searched_) {
        fd_ = find_socket();
        searched_ = true;
    }
    if (fd_ < 0) return false;
    pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
        // Readable without a hang-up: a pipelined next request, or an end of stream POLLRDHUP missed.
        char byte;
        return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }
    return false;
}

}  // namespace peregrine::server
