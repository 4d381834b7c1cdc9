#include "airbyte/message_writer.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sv::airbyte {

MessageWriter::MessageWriter(int fd, std::size_t flush_threshold) : fd_(fd), threshold_(flush_threshold) {
  buffer_.reserve(threshold_ + 64 * 1024);
}

Status MessageWriter::write(std::string_view lines) {
  if (failed_) return error_;
  if (lines.size() >= threshold_) {
    if (auto s = flush(); !s) return s;
    return write_all(lines.data(), lines.size());
  }
  buffer_.append(lines);
  if (buffer_.size() >= threshold_) return flush();
  return Ok{};
}

Status MessageWriter::flush() {
  if (failed_) return error_;
  if (buffer_.empty()) return Ok{};
  auto s = write_all(buffer_.data(), buffer_.size());
  buffer_.clear();  // keeps the capacity: the buffer is reused
  return s;
}

Status MessageWriter::write_now(std::string_view lines) {
  if (auto s = write(lines); !s) return s;
  return flush();
}

Status MessageWriter::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      bytes_written_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Someone made our stdout non-blocking; wait until the reader makes room.
      pollfd p{fd_, POLLOUT, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      continue;
    }
    const int err = n < 0 ? errno : EIO;
    failed_ = true;
    if (err == EPIPE) {
      output_closed_ = true;
      error_ = system_error("stdout was closed by its reader (EPIPE: Broken pipe)",
                            fmt::format("{} bytes were written before", bytes_written_));
    } else {
      error_ = system_error(fmt::format("writing to stdout failed: {}", std::strerror(err)));
    }
    return error_;
  }
  return Ok{};
}

}  // namespace sv::airbyte
