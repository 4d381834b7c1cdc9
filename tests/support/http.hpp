// tests/support: one HTTP/1.1 exchange with a loopback port (the emulator's control API, the
// metrics endpoint), on a plain socket so any test can use it without Boost.Beast.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sv::testing {

//! One request to 127.0.0.1:port (Connection: close): the whole response, or nullopt when nothing
//! accepts the connection.
inline std::optional<std::string> http_exchange(int port, const std::string& method, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)::write(fd, req.data(), req.size());  // a short write shows as a wrong response
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return resp;
}

//! {status code, body} of one request; {0, ""} when nothing listens.
inline std::pair<int, std::string> http_request(int port, const std::string& method, const std::string& target) {
  const auto resp = http_exchange(port, method, target);
  if (!resp) return {0, ""};
  int status = 0;
  if (resp->rfind("HTTP/1.", 0) == 0 && resp->size() > 12) status = std::atoi(resp->c_str() + 9);
  const auto body = resp->find("\r\n\r\n");
  return {status, body == std::string::npos ? std::string() : resp->substr(body + 4)};
}

//! The body of one request; throws when nothing accepts the connection.
inline std::string http(int port, const std::string& method, const std::string& target) {
  const auto resp = http_exchange(port, method, target);
  if (!resp) throw std::runtime_error("HTTP connect to 127.0.0.1:" + std::to_string(port) + " failed");
  const auto body = resp->find("\r\n\r\n");
  return body == std::string::npos ? *resp : resp->substr(body + 4);
}

}  // namespace sv::testing
