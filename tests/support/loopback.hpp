// tests/support: loopback sockets for tests of what a client does when a server misbehaves: a
// listening socket on a free port, and SilentPort (accepts, never answers).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sv::testing {

//! A TCP socket listening on 127.0.0.1 at a port the kernel chose; closed by the destructor.
//! The kernel completes connections into the backlog, whether or not anyone accepts them.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
    if (::listen(fd_, 16) != 0) fail("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) fail("getsockname");
    port_ = ntohs(addr.sin_port);
  }
  ~LoopbackListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int fd() const { return fd_; }
  int port() const { return port_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const std::string why = std::string("loopback listener: ") + what + ": " + std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error(why);
  }
  int fd_ = -1;
  int port_ = 0;
};

//! A loopback port that accepts TCP connections (the kernel completes them) and never answers.
struct SilentPort {
  LoopbackListener listener;
  const int port = listener.port();
};

}  // namespace sv::testing
