// A small HTTP/1.1 server on 127.0.0.1 for the download tests: plain POSIX sockets, one thread per
// connection, "Connection: close" on every answer. Each path serves a Resource whose knobs reproduce
// what goes wrong in real downloads: a connection dropped mid-file, wrong bytes, no Range support, a
// slow link, redirects to a CDN, error statuses. It counts the body bytes it really sent, so a test can
// prove that a resumed download did not fetch again what it already had.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace peregrine::test {

struct Resource {
    std::string body{};
    int status = 200;
    std::string content_type = "application/octet-stream";
    std::vector<std::pair<std::string, std::string>> headers{};  // extra response headers
    std::string redirect_to{};   // non-empty: answer 302 with this Location (a path on this server or a URL)
    bool ranges = true;        // honour "Range: bytes=N-" with 206; false answers 200 with the whole body
    int64_t drop_after = -1;   // >= 0: close the connection after this many body bytes...
    int drops = 0;             // ...on this many requests (then serve normally)
    bool corrupt = false;      // flip one byte in the middle of the body (wrong bytes, right length)
    int chunk_delay_ms = 0;    // slow mode: pause this long after every chunk
    size_t chunk_size = 64 * 1024;
};

// What one request asked for and got.
struct ServedRequest {
    std::string method;
    std::string target;        // as sent: origin form "/x?y", or absolute form "http://host/x" via a proxy
    std::string path;          // target without scheme, host and query
    std::map<std::string, std::string> headers;  // names lower case
    int status = 0;
    uint64_t body_bytes_sent = 0;
};

class LoopbackHttpServer {
public:
    LoopbackHttpServer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::runtime_error("test server: socket() failed");
        const int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
            ::close(listen_fd_);
            throw std::runtime_error("test server: cannot listen on 127.0.0.1");
        }
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~LoopbackHttpServer() {
        stopping_ = true;
        acceptor_.join();
        ::close(listen_fd_);
        std::vector<std::thread> connections;
        {
            std::lock_guard lock(mutex_);
            connections.swap(connections_);
        }
        for (std::thread& t : connections) t.join();
    }

    uint16_t port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string url(const std::string& path) const { return base_url() + path; }

    // Serves `resource` at `target` ("/file.gguf", or with its query "/api/x?recursive=true").
    void put(const std::string& target, Resource resource) {
        std::lock_guard lock(mutex_);
        resources_[target] = std::move(resource);
    }
    void set_slow(const std::string& target, int chunk_delay_ms, size_t chunk_size) {
        std::lock_guard lock(mutex_);
        resources_.at(target).chunk_delay_ms = chunk_delay_ms;
        resources_.at(target).chunk_size = chunk_size;
    }

    // Requests whose path (no query) is `path`, in arrival order; all requests when `path` is empty.
    std::vector<ServedRequest> requests(const std::string& path = {}) const {
        std::lock_guard lock(mutex_);
        std::vector<ServedRequest> out;
        for (const ServedRequest& r : served_) {
            if (path.empty() || r.path == path) out.push_back(r);
        }
        return out;
    }
    uint64_t body_bytes_sent(const std::string& path) const {
        uint64_t total = 0;
        for (const ServedRequest& r : requests(path)) total += r.body_bytes_sent;
        return total;
    }

private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            std::lock_guard lock(mutex_);
            connections_.emplace_back([this, fd] { serve(fd); });
        }
    }

    static std::string lower(std::string s) {
        for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }

    // Reads the request head (the tests never send bodies); false when the client went away.
    bool read_head(int fd, std::string& head) {
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
            pollfd p{fd, POLLIN, 0};
            if (stopping_ || head.size() > 64 * 1024) return false;
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            head.append(buf, size_t(n));
        }
        return true;
    }

    // Counts into the request's record before the client can have the bytes, so a test that checks the
    // counts right after its download returned sees them.
    bool send_all(int fd, const char* data, size_t n, ServedRequest* counted) {
        while (n > 0) {
            const ssize_t sent = ::send(fd, data, n, MSG_NOSIGNAL);
            if (sent <= 0) return false;
            if (counted) {
                std::lock_guard lock(mutex_);
                counted->body_bytes_sent += uint64_t(sent);
            }
            data += sent;
            n -= size_t(sent);
        }
        return true;
    }

    ServedRequest& record(const ServedRequest& request) {
        std::lock_guard lock(mutex_);
        served_.push_back(request);
        return served_.back();  // deque: stays valid while later requests are appended
    }

    void serve(int fd) {
        ServedRequest req;
        std::string head;
        if (!read_head(fd, head)) {
            ::close(fd);
            return;
        }
        size_t line_end = head.find("\r\n");
        const std::string request_line = head.substr(0, line_end);
        const size_t sp1 = request_line.find(' ');
        const size_t sp2 = request_line.rfind(' ');
        req.method = request_line.substr(0, sp1);
        req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        for (size_t pos = line_end + 2; pos < head.size();) {
            const size_t end = head.find("\r\n", pos);
            if (end == std::string::npos || end == pos) break;
            const std::string line = head.substr(pos, end - pos);
            const size_t colon = line.find(':');
            if (colon != std::string::npos) {
                size_t v = colon + 1;
                while (v < line.size() && line[v] == ' ') ++v;
                req.headers[lower(line.substr(0, colon))] = line.substr(v);
            }
            pos = end + 2;
        }
        std::string origin_target = req.target;
        if (origin_target.rfind("http://", 0) == 0) {  // absolute form: we are being used as a proxy
            const size_t slash = origin_target.find('/', 7);
            origin_target = slash == std::string::npos ? "/" : origin_target.substr(slash);
        }
        req.path = origin_target.substr(0, origin_target.find('?'));

        Resource resource;
        bool found = false;
        bool drop = false;
        {
            std::lock_guard lock(mutex_);
            auto it = resources_.find(origin_target);
            if (it == resources_.end()) it = resources_.find(req.path);
            if (it != resources_.end()) {
                found = true;
                resource = it->second;
                if (it->second.drops > 0 && it->second.drop_after >= 0) {
                    drop = true;
                    --it->second.drops;
                }
            }
        }
        if (!found) {
            resource.status = 404;
            resource.content_type = "text/plain";
            resource.body = "Entry not found";
            resource.ranges = false;
        }
        respond(fd, record(req), resource, drop);
        ::close(fd);
    }

    void respond(int fd, ServedRequest& req, Resource& r, bool drop) {
        if (!r.redirect_to.empty()) {
            set_status(req, 302);
            const std::string location = r.redirect_to.rfind("http", 0) == 0 ? r.redirect_to : base_url() + r.redirect_to;
            const std::string answer = "HTTP/1.1 302 Found\r\nLocation: " + location +
                                       "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send_all(fd, answer.data(), answer.size(), nullptr);
            return;
        }
        std::string body = r.body;
        if (r.corrupt && !body.empty()) body[body.size() / 2] = char(body[body.size() / 2] ^ 0x5a);
        int status = r.status;
        std::string extra;
        uint64_t first = 0;
        const auto range = req.headers.find("range");
        if (status == 200 && r.ranges && range != req.headers.end() && range->second.rfind("bytes=", 0) == 0) {
            first = std::stoull(range->second.substr(6));
            if (first >= body.size()) {
                status = 416;
                extra += "Content-Range: bytes */" + std::to_string(body.size()) + "\r\n";
                body.clear();
                first = 0;
            } else {
                status = 206;
                extra += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(body.size() - 1) +
                         "/" + std::to_string(body.size()) + "\r\n";
            }
        }
        const std::string_view payload = std::string_view(body).substr(size_t(first));
        if (r.ranges) extra += "Accept-Ranges: bytes\r\n";
        for (const auto& [name, value] : r.headers) extra += name + ": " + value + "\r\n";
        const std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                                   "\r\nContent-Type: " + r.content_type +
                                   "\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n" + extra +
                                   "Connection: close\r\n\r\n";
        set_status(req, status);
        if (!send_all(fd, answer.data(), answer.size(), nullptr) || req.method == "HEAD") return;

        size_t limit = payload.size();
        if (drop) limit = std::min(limit, size_t(r.drop_after));
        for (size_t sent = 0; sent < limit && !stopping_;) {
            const size_t n = std::min(r.chunk_size, limit - sent);
            if (!send_all(fd, payload.data() + sent, n, &req)) return;
            sent += n;
            if (r.chunk_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(r.chunk_delay_ms));
        }
        if (drop) ::shutdown(fd, SHUT_RDWR);
    }

    void set_status(ServedRequest& req, int status) {
        std::lock_guard lock(mutex_);
        req.status = status;
    }

    static const char* reason(int status) {
        switch (status) {
            case 200: return "OK";
            case 206: return "Partial Content";
            case 401: return "Unauthorized";
            case 404: return "Not Found";
            case 416: return "Range Not Satisfiable";
            case 500: return "Internal Server Error";
            default: return "Status";
        }
    }

    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::map<std::string, Resource> resources_;
    std::deque<ServedRequest> served_;
    std::vector<std::thread> connections_;
};

}  // namespace peregrine::test
