// Notices that the client of a request being handled has hung up, for handlers that write nothing until
// they are done (a non-streamed completion). The packaged cpp-httplib (0.11) gives a handler the
// connection's addresses but not its socket, so the socket is found once by its address pair among the
// process's open descriptors (a TCP connection's four-tuple is unique, and httplib keeps the socket
// open while the handler runs, so the descriptor found cannot be reused under us). Linux only; where the
// socket cannot be found, nothing is ever reported closed. A client that half-closes its side after
// sending the request (shutdown(SHUT_WR), which no HTTP client library does by default) counts as gone.
#pragma once

#include <string>

namespace peregrine::server {

class ConnectionWatch {
public:
    // local_*/remote_* as httplib::Request holds them (numeric host strings).
    ConnectionWatch(std::string local_addr, int local_port, std::string remote_addr, int remote_port);

    // The peer closed its side (or the connection failed). Looks the socket up on the first call.
    bool peer_closed();
    bool found() const { return fd_ >= 0; }

private:
    int find_socket() const;

    std::string local_addr_, remote_addr_;
    int local_port_, remote_port_;
    int fd_ = -1;
    bool searched_ = false;
};

}  // namespace peregrine::server
