// src/socket: the data channel's environment and its sockets (see data_channel.hpp).
#include "socket/data_channel.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace sv::socket {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status check_path(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return config_error(fmt::format(
        "DATA_CHANNEL_SOCKET_PATHS: the socket path '{}' is {} bytes long; a Unix socket path has at most {}", path,
        path.size(), sizeof(sockaddr_un{}.sun_path) - 1));
  }
  struct stat st {};
  const std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return config_error(fmt::format(
        "DATA_CHANNEL_SOCKET_PATHS: the directory of the socket path '{}' does not exist ('{}')", path, dir));
  }
  if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    return config_error(fmt::format(
        "DATA_CHANNEL_SOCKET_PATHS: '{}' exists and is not a socket; the connector only replaces a stale socket file",
        path));
  }
  return Ok{};
}

}  // namespace

Result<DataChannel> data_channel_from_env(const std::function<const char*(const char*)>& get) {
  DataChannel dc;
  const char* medium = get("DATA_CHANNEL_MEDIUM");
  const char* format = get("DATA_CHANNEL_FORMAT");
  const std::string m = medium ? trim(medium) : "";
  const std::string f = format ? trim(format) : "";
  if (m.empty() || m == "STDIO") {
    dc.medium = Medium::stdio;
  } else if (m == "SOCKET") {
    dc.medium = Medium::socket;
  } else {
    return config_error(fmt::format("DATA_CHANNEL_MEDIUM '{}' is not supported: expected STDIO or SOCKET", m));
  }
  if (f.empty() || f == "JSONL") {
    dc.format = Format::jsonl;
  } else if (f == "PROTOBUF") {
    dc.format = Format::protobuf;
  } else {
    return config_error(fmt::format("DATA_CHANNEL_FORMAT '{}' is not supported: expected JSONL or PROTOBUF", f));
  }
  if (dc.medium == Medium::stdio) return dc;  // the format only matters on sockets

  if (const char* t = get("SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS"); t != nullptr && *t != '\0') {
    const std::string_view text(t);
    std::uint32_t seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds == 0) {
      return config_error(
          fmt::format("SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS '{}' is not a positive number of seconds", text));
    }
    dc.accept_timeout = std::chrono::seconds(seconds);
  }

  const char* paths = get("DATA_CHANNEL_SOCKET_PATHS");
  const std::string list = paths ? paths : "";
  std::set<std::string> seen;
  std::size_t start = 0;
  while (!trim(list).empty()) {
    const auto comma = list.find(',', start);
    const std::string path = trim(std::string_view(list).substr(start, comma - start));
    if (path.empty()) {
      return config_error(fmt::format("DATA_CHANNEL_SOCKET_PATHS '{}' has an empty entry", list));
    }
    if (!seen.insert(path).second) {
      return config_error(fmt::format("DATA_CHANNEL_SOCKET_PATHS names '{}' twice", path));
    }
    if (auto s = check_path(path); !s) return s.error();
    dc.paths.push_back(path);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (dc.paths.empty()) {
    return config_error("DATA_CHANNEL_MEDIUM is SOCKET but DATA_CHANNEL_SOCKET_PATHS names no socket path");
  }
  // Each path costs a listening and a connected descriptor for a moment; keep room for the rest
  // of the process (gRPC channels, files, the metrics endpoint).
  constexpr std::size_t kReserve = 64;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      2 * dc.paths.size() + kReserve > lim.rlim_cur) {
    return config_error(
        fmt::format("DATA_CHANNEL_SOCKET_PATHS names {} sockets, more than this process may open (open-files limit {}, "
                    "{} kept for the rest): give fewer paths or raise the limit",
                    dc.paths.size(), lim.rlim_cur, kReserve));
  }
  return dc;
}

Result<std::vector<ConnectedSocket>> open_data_channel(const std::vector<std::string>& paths,
                                                       std::chrono::milliseconds timeout) {
  struct Listener {
    std::string path;
    int fd = -1;
    int conn = -1;
  };
  std::vector<Listener> ls;
  auto close_all = [&ls] {
    for (auto& l : ls) {
      if (l.fd >= 0) {
        ::close(l.fd);
        ::unlink(l.path.c_str());
      }
      if (l.conn >= 0) ::close(l.conn);
    }
  };
  for (const auto& path : paths) {
    Listener l{path};
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      spdlog::info("removing the stale socket file '{}'", path);
      (void)::unlink(path.c_str());
    }
    l.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
    if (l.fd < 0 || ::bind(l.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(l.fd, 1) != 0) {
      const int err = errno;
      if (l.fd >= 0) ::close(l.fd);
      close_all();
      return config_error(fmt::format("cannot listen on the data channel socket '{}': {}", path, std::strerror(err)));
    }
    ls.push_back(std::move(l));
  }
  spdlog::info("data channel: listening on {} socket(s), waiting for the destination to connect", ls.size());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t connected = 0;
  while (connected < ls.size()) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < ls.size(); ++i) {
      if (ls[i].conn < 0) {
        fds.push_back(pollfd{ls[i].fd, POLLIN, 0});
        which.push_back(i);
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int n = left.count() > 0 ? ::poll(fds.data(), fds.size(), static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string path = ls[which.front()].path;
      close_all();
      return transient_error(fmt::format(
          "no destination connected to the data channel socket '{}' within {} s (DATA_CHANNEL_MEDIUM=SOCKET); "
          "the destination did not start or does not support socket mode",
          path, std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if ((fds[k].revents & POLLIN) == 0) continue;
      auto& l = ls[which[k]];
      l.conn = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (l.conn >= 0) ++connected;
    }
  }
  std::vector<ConnectedSocket> out;
  for (auto& l : ls) {
    ::close(l.fd);
    (void)::unlink(l.path.c_str());  // nobody else connects; leave no socket file behind
    out.push_back(ConnectedSocket{l.path, l.conn});
  }
  spdlog::info("data channel: the destination connected to all {} socket(s)", out.size());
  return out;
}

}  // namespace sv::socket
