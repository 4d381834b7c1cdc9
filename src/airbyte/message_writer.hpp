// src/airbyte: the writer that puts finished protocol lines on stdout. It gathers small lines in
// a reusable buffer and hands big chunks straight to write(2), so stdout sees few, large writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sv::airbyte {

class MessageWriter {
 public:
  //! `fd` is borrowed, never closed. Bytes are queued until `flush_threshold` is reached.
  explicit MessageWriter(int fd = 1, std::size_t flush_threshold = 256 * 1024);
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  //! Queues complete lines; writes when the queue passes the threshold. A chunk larger than
  //! the threshold is written directly after what is queued, without a copy.
  Status write(std::string_view lines);
  //! Writes everything queued. Retries on EINTR and short writes, waits with poll(2) when the
  //! fd is non-blocking and full.
  Status flush();
  //! write() then flush().
  Status write_now(std::string_view lines);

  //! True once the reader closed the pipe (EPIPE). Needs SIGPIPE ignored, which main does.
  bool output_closed() const { return output_closed_; }
  //! True after any write error; every later call returns that error again without writing.
  bool failed() const { return failed_; }
  //! The write error once failed(): says why, with the errno text (see the troubleshooting table).
  const Error& error() const { return error_; }
  std::uint64_t bytes_written() const { return bytes_written_; }
  std::size_t pending() const { return buffer_.size(); }

 private:
  Status write_all(const char* data, std::size_t size);

  int fd_;
  std::size_t threshold_;
  std::string buffer_;
  std::uint64_t bytes_written_ = 0;
  bool failed_ = false;
  bool output_closed_ = false;
  Error error_;
};

}  // namespace sv::airbyte
